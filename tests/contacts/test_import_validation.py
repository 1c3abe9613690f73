"""Row validation (I3): the import's fast phone path agrees with contacts.phones exactly."""

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import _number_type_helper

from contacts.importing.mapping import mapping_plan
from contacts.importing.validation import RowCleaner, RowInvalid, _us_type
from contacts.phones import InvalidPhone, normalize_phone, phone_info

FORMATS = [
    "({a}) {e}-{l}",
    "{a}-{e}-{l}",
    "{a}.{e}.{l}",
    "+1 {a} {e} {l}",
    "1-{a}-{e}-{l}",
    "{a}{e}{l}",
    "+1{a}{e}{l}",
]


def _cleaner(region="US"):
    return RowCleaner(
        mapping_plan({"Phone": "phone", "Email": "email"}, ["Phone", "Email"]), region
    )


@settings(max_examples=400, deadline=None)
@given(
    area=st.integers(100, 999),
    exchange=st.integers(0, 999),
    line=st.integers(0, 9999),
    fmt=st.sampled_from(FORMATS),
    region=st.sampled_from(["US", "CA", "GB"]),
)
def test_phone_fast_path_matches_normalize_phone(area, exchange, line, fmt, region):
    raw = fmt.format(a=f"{area:03d}", e=f"{exchange:03d}", l=f"{line:04d}")
    try:
        expected = normalize_phone(raw, region)
    except InvalidPhone as exc:
        with pytest.raises(RowInvalid) as caught:
            _cleaner(region).phone(raw)
        assert str(caught.value) == str(exc)
        return
    e164, tz, carrier, line_type = _cleaner(region).phone(raw)
    info = phone_info(expected)
    assert (e164, tz, carrier, line_type) == (expected, info.timezone, info.carrier, info.line_type)


@settings(max_examples=1000, deadline=None)
@given(
    national=st.integers(0, 9_999_999_999).map(lambda n: f"{n:010d}")
    | st.sampled_from(["800", "888", "900", "500", "523", "524", "533"]).flatmap(
        lambda prefix: st.integers(0, 9_999_999).map(lambda n: f"{prefix}{n:07d}")
    )
)
def test_us_type_matches_phonenumbers(national):
    assert _us_type(national) == _number_type_helper(
        national, PhoneMetadata.metadata_for_region("US")
    )


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("020 7946 0018", "GB", "+442079460018"),
        ("0044 20 7946 0018", "US", "+442079460018"),
        ("tel:+1-415-555-0132", "US", "+14155550132"),
        ("(604) 555-0199", "US", "+16045550199"),  # Canada, via the +1 fallback
    ],
)
def test_phone_general_path(raw, region, expected):
    assert _cleaner(region).phone(raw)[0] == expected


def test_clean_row_rules():
    cleaner = _cleaner()
    assert cleaner.clean(["", "ANN@Example.COM"])["email"] == "ann@example.com"
    with pytest.raises(RowInvalid, match="neither"):
        cleaner.clean(["", ""])
    with pytest.raises(RowInvalid, match="not a valid email"):
        cleaner.clean(["+14155550132", "ann@"])  # one bad method spoils the row
    with pytest.raises(RowInvalid, match="not a phone number"):
        cleaner.clean(["call me", "ann@example.com"])


@settings(max_examples=400, deadline=None)
@given(
    user=st.text(alphabet='ab.-+_"@ \\é[]', max_size=8),
    domain=st.text(alphabet="ab.-_0123456789[]:@é", max_size=12)
    | st.sampled_from(["example.com", "localhost", "[127.0.0.1]", "[::1]", "xn--bcher-kva.de"]),
)
def test_email_check_matches_django_email_validator(user, domain):
    email = f"{user}@{domain}".lower()
    try:
        validate_email(email)
        expected = True
    except ValidationError:
        expected = False
    cleaner = _cleaner()
    assert cleaner.email_valid(email) == expected
    assert cleaner.email_valid(email) == expected  # the cached domain verdict too
