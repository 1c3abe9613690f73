"""Time zones and phone regions as people pick them: by country name as well as by code.

Names come from the IANA tables (`zone.tab`, `iso3166.tab`) shipped in the `tzdata` package,
so they do not depend on what the machine has under /usr/share/zoneinfo.
"""

import unicodedata
from functools import cache
from importlib.resources import files
from zoneinfo import available_timezones

import phonenumbers

# Phone regions the IANA table lacks, and its one short name people would not search for.
_EXTRA_COUNTRIES = {
    "AC": "Ascension Island",
    "TA": "Tristan da Cunha",
    "XK": "Kosovo",
    "GB": "United Kingdom (Britain)",
}


def _table(name: str) -> list[list[str]]:
    text = (files("tzdata.zoneinfo") / name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@cache
def country_names() -> dict[str, str]:
    """ISO 3166 code -> country name ("US" -> "United States")."""
    return {row[0]: row[1] for row in _table("iso3166.tab")} | _EXTRA_COUNTRIES


@cache
def _zone_countries() -> dict[str, str]:
    names = country_names()
    return {row[2]: names.get(row[0], row[0]) for row in _table("zone.tab")}


@cache
def known_timezones() -> frozenset[str]:
    """Every IANA zone name, aliases included (available_timezones() walks the disk)."""
    return frozenset(available_timezones())


@cache
def timezone_choices() -> list[tuple[str, str]]:
    """Every zone a country uses, labelled with the country ("America/New_York — United
    States"), then UTC. Old aliases (US/Eastern) are valid values but not offered."""
    countries, known = _zone_countries(), known_timezones()
    zones = sorted(zone for zone in countries if zone in known)
    return [(zone, f"{zone.replace('_', ' ')} — {countries[zone]}") for zone in zones] + [
        ("UTC", "UTC")
    ]


def timezone_choices_with(current: str) -> list[tuple[str, str]]:
    """The choices, keeping a stored value that is no longer offered (an old alias)."""
    choices = timezone_choices()
    if current and current not in dict(choices):
        return [(current, current), *choices]
    return choices


@cache
def region_choices() -> list[tuple[str, str]]:
    """Phone regions by country name: ("US", "United States (US, +1)")."""
    names = country_names()
    labelled = [
        (
            region,
            f"{names.get(region, region)} ({region}, "
            f"+{phonenumbers.country_code_for_region(region)})",
        )
        for region in phonenumbers.SUPPORTED_REGIONS
    ]
    return sorted(labelled, key=lambda choice: _sort_key(choice[1]))


def _sort_key(text: str) -> str:
    """Åland Islands next to Albania, not after Zimbabwe."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
