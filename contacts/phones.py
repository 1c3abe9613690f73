"""Phone numbers: E.164 normalisation and the data derived from a number (C2).

phonenumbers is slow (~40 µs to parse and validate, more for timezone and carrier), and
imports repeat numbers, so results are cached by raw string and the derived data by prefix.
"""

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, carrier, timezone

LINE_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "landline_or_mobile",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.PERSONAL_NUMBER: "personal",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
}


class InvalidPhone(ValueError):
    """The number cannot be read, or is not a valid number; the message says which."""


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    e164: str
    timezone: str
    carrier: str
    line_type: str


@lru_cache(maxsize=200_000)
def normalize_phone(raw: str, region: str = "US") -> str:
    """The E.164 form of `raw` read in `region`, or InvalidPhone with a clear message."""
    text = raw.strip()
    if not text:
        raise InvalidPhone("Phone number is empty.")
    if text.startswith("00"):
        text = "+" + text[2:]  # the international prefix most of the world dials
    try:
        number = phonenumbers.parse(text, region.upper())
    except NumberParseException as exc:
        raise InvalidPhone(f"“{raw}” is not a phone number.") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(
            f"“{raw}” is not a valid phone number"
            + ("." if text.startswith("+") else f" in region {region.upper()}.")
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_info(e164: str) -> PhoneInfo:
    """Timezone, carrier and line type of a valid E.164 number (cached by its first digits)."""
    number = phonenumbers.parse(e164)
    tz, operator = prefix_data(e164, number)
    return PhoneInfo(
        e164=e164,
        timezone=tz,
        carrier=operator,
        line_type=LINE_TYPES.get(phonenumbers.number_type(number), "unknown"),
    )


_prefix_cache: dict[tuple[str, int], tuple[str, str]] = {}


def prefix_data(e164: str, number: phonenumbers.PhoneNumber | None = None) -> tuple[str, str]:
    """Timezone and carrier of a valid E.164 number (`number` is its parse, if at hand).

    Both are assigned by prefix, so numbers sharing their first digits (and length) share the
    answer: cached by prefix, not by number. A number that maps to several zones
    (non-geographic) gets none; the workspace zone applies instead.
    """
    key = (e164[:9], len(e164))
    found = _prefix_cache.get(key)
    if found is None:
        number = number or phonenumbers.parse(e164)
        zones = [z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
        found = (zones[0] if len(zones) == 1 else "", carrier.name_for_number(number, "en"))
        if len(_prefix_cache) >= 100_000:
            _prefix_cache.clear()
        _prefix_cache[key] = found
    return found
