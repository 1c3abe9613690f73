"""Per-row validation (I3): a row becomes the values a Contact will hold, or a reason it can't.

phonenumbers costs ~40 µs a number, which is most of an import's time: a number is parsed
once, its type (which is also its validity) computed once, and the result cached by raw string.
Email addresses get Django's EmailValidator checks, with the verdict on each domain (the
expensive half) cached: a file holds many addresses but few domains.
"""

from __future__ import annotations

import re
import zoneinfo

import phonenumbers
from django.core.validators import EmailValidator
from phonenumbers import (
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberType,
)

from contacts.phones import LINE_TYPES, InvalidPhone, normalize_phone, prefix_data

from .mapping import Plan

MAX_LENGTHS = {
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "company": 200,
    "timezone": 64,
    "carrier": 100,
    "line_type": 30,
}
LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "company": "Company",
    "timezone": "Timezone",
    "carrier": "Carrier",
    "line_type": "Line type",
}
MAX_METADATA_VALUE = 2000
_CACHE_LIMIT = 100_000
_email_validator = EmailValidator()
_email_user = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
_zones: set[str] | None = None


class RowInvalid(ValueError):
    pass


class RowCleaner:
    """Turns a row's cells into contact values following a mapping plan."""

    def __init__(self, plan: Plan, region: str):
        self.plan = plan
        self.region = (region or "US").upper()
        self._phones: dict[str, tuple[str, str, str, str] | str] = {}
        self._domains: dict[str, bool] = {}
        mapped = {field for _, field in plan.fields}
        if "full_name" in mapped:
            mapped |= {"first_name", "last_name"}
        self._limits = [(f, limit) for f, limit in MAX_LENGTHS.items() if f in mapped]

    def clean(self, cells: list[str]) -> dict:
        values: dict = {}
        for index, field in self.plan.fields:
            value = cells[index]
            if value:
                values[field] = value.replace("\x00", "") if "\x00" in value else value
        full = values.pop("full_name", "")
        if full:
            first, _, last = " ".join(full.split()).partition(" ")
            values["first_name"], values["last_name"] = first, last
        for field, limit in self._limits:  # the fields this mapping can fill
            if len(values.get(field, "")) > limit:
                raise RowInvalid(f"{LABELS[field]} is longer than {limit} characters.")
        phone_raw, email_raw = values.get("phone", ""), values.get("email", "")
        if not phone_raw and not email_raw:
            raise RowInvalid("The row has neither a phone number nor an email address.")
        if email_raw:
            email = email_raw.lower()
            if not self.email_valid(email):
                raise RowInvalid(f"“{email_raw}” is not a valid email address.")
            values["email"] = email
        if phone_raw:
            e164, tz, operator, line_type = self.phone(phone_raw)
            values["phone"] = e164
            values.setdefault("timezone", tz)
            values.setdefault("carrier", operator)
            values.setdefault("line_type", line_type)
        if values.get("timezone") and not _valid_zone(values["timezone"]):
            raise RowInvalid(f"“{values['timezone']}” is not a timezone name (like Europe/Paris).")
        metadata = {}
        for index, key in self.plan.metadata:
            value = cells[index]
            if value:
                if "\x00" in value:  # PostgreSQL text cannot hold NUL
                    value = value.replace("\x00", "")
                if len(value) > MAX_METADATA_VALUE:
                    raise RowInvalid(f"“{key}” is longer than {MAX_METADATA_VALUE} characters.")
                metadata[key] = value
        values["metadata"] = metadata
        return values

    def email_valid(self, email: str) -> bool:
        """EmailValidator's verdict, its domain check (all but the user part) cached."""
        user, at, domain = email.rpartition("@")
        if not at or len(email) > 320 or not _email_user.match(user):
            return False
        valid = self._domains.get(domain)
        if valid is None:
            valid = domain in _email_validator.domain_allowlist or bool(
                _email_validator.validate_domain_part(domain)
            )
            if len(self._domains) >= _CACHE_LIMIT:
                self._domains.clear()
            self._domains[domain] = valid
        return valid

    def phone(self, raw: str) -> tuple[str, str, str, str]:
        cached = self._phones.get(raw)
        if cached is None:
            try:
                cached = self._parse_phone(raw)
            except InvalidPhone as exc:
                cached = str(exc)
            if len(self._phones) >= _CACHE_LIMIT:
                self._phones.clear()
            self._phones[raw] = cached
        if isinstance(cached, str):
            raise RowInvalid(cached)
        return cached

    def _parse_phone(self, raw: str) -> tuple[str, str, str, str]:
        text = raw.strip()
        if text.startswith("00"):
            text = "+" + text[2:]
        national = self._nanpa(text)
        kind = _us_type(national) if national else PhoneNumberType.UNKNOWN
        if kind != PhoneNumberType.UNKNOWN:  # a valid US number: "+1" and its ten digits
            e164 = "+1" + national
            tz, operator = prefix_data(e164)
            return e164, tz, operator, LINE_TYPES.get(kind, "unknown")
        try:
            if national is None:
                number = phonenumbers.parse(text, self.region)
            else:  # +1 but not the US: Canada, the Caribbean, or invalid
                number = PhoneNumber(country_code=1, national_number=int(national))
            kind = phonenumbers.number_type(number)  # UNKNOWN exactly when invalid
        except NumberParseException:
            kind = PhoneNumberType.UNKNOWN
        if kind == PhoneNumberType.UNKNOWN:
            # Let the shared normaliser word the error (and have the last word on validity).
            e164 = normalize_phone(raw, self.region)
            number = phonenumbers.parse(e164)
            kind = phonenumbers.number_type(number)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        tz, operator = prefix_data(e164, number)
        return e164, tz, operator, LINE_TYPES.get(kind, "unknown")

    def _nanpa(self, text: str) -> str | None:
        """The ten-digit national number of a +1 / US / CA number written with only digits and
        punctuation, without parse().

        parse() is half the cost of a number; for these inputs its result is known: country
        code 1 and the last ten digits. Anything else takes the general path.
        """
        plus = text.startswith("+")
        if not plus and self.region not in _NANPA_REGIONS:
            return None
        digits = text.translate(_PUNCTUATION)
        if not digits.isascii() or not digits.isdigit():
            return None
        if plus:
            if len(digits) != 11 or digits[0] != "1":
                return None
            digits = digits[1:]
        elif len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
        elif len(digits) != 10:
            return None
        if digits[0] in "01":
            return None
        return digits


_NANPA_REGIONS = {"US", "CA"}
_PUNCTUATION = str.maketrans("", "", " ()-.+\u00a0")
_US = PhoneMetadata.metadata_for_region("US")


def _pattern(desc, length: int) -> re.Pattern | None:
    """A number type's pattern, compiled, if numbers of this length can be of that type."""
    if desc is None or not desc.national_number_pattern:
        return None
    if desc.possible_length and length not in desc.possible_length:
        return None
    return re.compile(desc.national_number_pattern)


# _number_type_helper's checks for ten-digit US numbers, in its order, compiled once: it looks
# each pattern up in a cache and matches it twice, which is most of its ~11 µs a number.
_US_GENERAL = _pattern(_US.general_desc, 10)
_US_SAME_MOBILE = _US.same_mobile_and_fixed_line_pattern
_US_MOBILE = _pattern(_US.mobile, 10)
_US_CHECKS = [
    (pattern, kind)
    for pattern, kind in (
        (_pattern(_US.premium_rate, 10), PhoneNumberType.PREMIUM_RATE),
        (_pattern(_US.toll_free, 10), PhoneNumberType.TOLL_FREE),
        (_pattern(_US.shared_cost, 10), PhoneNumberType.SHARED_COST),
        (_pattern(_US.voip, 10), PhoneNumberType.VOIP),
        (_pattern(_US.personal_number, 10), PhoneNumberType.PERSONAL_NUMBER),
        (_pattern(_US.pager, 10), PhoneNumberType.PAGER),
        (_pattern(_US.uan, 10), PhoneNumberType.UAN),
        (_pattern(_US.voicemail, 10), PhoneNumberType.VOICEMAIL),
        (_pattern(_US.fixed_line, 10), PhoneNumberType.FIXED_LINE),
        (None if _US_SAME_MOBILE else _US_MOBILE, PhoneNumberType.MOBILE),
    )
    if pattern is not None
]


def _us_type(national: str) -> int:
    """_number_type_helper(national, US metadata) for a ten-digit national number.

    number_type() finds a +1 number's region by trying each +1 region in turn, the US first:
    for a number valid in the US, this is its answer; UNKNOWN sends it to number_type().
    """
    if _US_GENERAL is None or not _US_GENERAL.fullmatch(national):
        return PhoneNumberType.UNKNOWN
    for pattern, kind in _US_CHECKS:
        if pattern.fullmatch(national):
            if kind == PhoneNumberType.FIXED_LINE and (
                _US_SAME_MOBILE or (_US_MOBILE is not None and _US_MOBILE.fullmatch(national))
            ):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return kind
    return PhoneNumberType.UNKNOWN


def _valid_zone(name: str) -> bool:
    global _zones
    if _zones is None:
        _zones = zoneinfo.available_timezones()
    return name in _zones
