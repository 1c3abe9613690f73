"""Form fields for a time zone and a phone region: searchable selects labelled with countries."""

from django import forms

from .zones import known_timezones, region_choices, timezone_choices, timezone_choices_with


class SearchableSelect(forms.Select):
    """A select that app.js gives a search box (type "new york" or "germany")."""

    def __init__(self, *args, search_label: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.attrs["data-search"] = search_label


class TimeZoneField(forms.ChoiceField):
    """Any IANA zone; offered by country. `show_current(value)` keeps an old alias listed;
    `blank_label` offers an empty choice (for an optional zone)."""

    def __init__(self, *, blank_label: str = "", **kwargs):
        kwargs.setdefault("widget", SearchableSelect(search_label="Find a zone by city or country"))
        self.blank = [("", blank_label)] if blank_label else []
        super().__init__(choices=self.blank + timezone_choices(), **kwargs)

    def valid_value(self, value) -> bool:
        return value in known_timezones()

    def show_current(self, value: str) -> None:
        self.choices = self.blank + timezone_choices_with(value)


class RegionField(forms.ChoiceField):
    default_error_messages = {"invalid_choice": "“%(value)s” is not a country code."}

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", SearchableSelect(search_label="Find a country"))
        super().__init__(choices=region_choices, **kwargs)
