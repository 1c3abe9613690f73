"""Checks of a condition's value: each returns the value as the compiler uses it, or raises
Invalid with a message for the user."""

import re
from datetime import date
from typing import Any

MAX_TEXT = 200
MAX_LIST = 500
MAX_DAYS = 36_500


class Invalid(ValueError):
    """A condition's value does not suit its field and operator; the message says why."""


def text_value(value: Any) -> str:
    """A text to compare with: not blank (blank is what "is empty" / not_set is for)."""
    if not isinstance(value, str):
        raise Invalid("Give a text value.")
    if len(value) > MAX_TEXT:
        raise Invalid(f"A value has at most {MAX_TEXT} characters.")
    if not value.strip():
        raise Invalid("Give a value (to find empty ones, use “is empty”).")
    return value


def list_value(value: Any, item) -> list:
    if not isinstance(value, list) or not value:
        raise Invalid("Give a list of values.")
    if len(value) > MAX_LIST:
        raise Invalid(f"A list has at most {MAX_LIST} values.")
    return [item(v) for v in value]


def no_value(value: Any) -> None:
    if value not in (None, ""):
        raise Invalid("This operator takes no value.")


def days_value(value: Any, *, future: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("Give a whole number of days.")
    low = -MAX_DAYS if future else 1
    if not low <= value <= MAX_DAYS or value == 0:
        hint = " (negative: the next days)" if future else ""
        raise Invalid(f"Give a number of days from 1 to {MAX_DAYS:,}{hint}.")
    return value


def date_value(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            date.fromisoformat(value)
            return value
        except ValueError:
            pass
    raise Invalid("Give a date as YYYY-MM-DD.")


def number_value(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("Give a number.")
    if not abs(value) <= 1e30:  # also NaN, which Python's JSON parser lets through
        raise Invalid("Give a number between -10^30 and 10^30.")
    return float(value)


def group_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise Invalid("Give a group id.")
    return value
