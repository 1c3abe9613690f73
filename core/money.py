"""Amounts of money for people: the currency's own decimal places (ISO 4217)."""

from decimal import Decimal
from functools import cache

from iso4217 import Currency


@cache
def minor_units(currency: str) -> int | None:
    """The currency's decimal places (2 for USD, 0 for JPY, 3 for BHD), or None when `currency`
    is not an ISO 4217 code of money (unknown, or a unit such as gold without minor units)."""
    try:
        return Currency(currency).exponent
    except ValueError:
        return None


def money(amount: Decimal | float | int, currency: str) -> str:
    """ "1,234.50 USD", "1,500 JPY"."""
    places = minor_units(currency)
    return f"{Decimal(amount):,.{2 if places is None else places}f} {currency}"
