"""The workspace's attribution settings (E3): how long a click or a delivery earns the credit
for a conversion, and the one currency revenue is reported in."""

from functools import cache

from django import forms
from iso4217 import Currency

from accounts.models import Workspace
from core.money import minor_units

from .models import Conversion

MAX_CLICK_DAYS = 90
MAX_DELIVERED_HOURS = 720  # 30 days


@cache
def currency_choices() -> list[tuple[str, str]]:
    """ISO 4217 currencies of money (not gold, not test codes), by code."""
    return sorted(
        (c.code, f"{c.code} — {c.currency_name}")
        for c in Currency
        if minor_units(c.code) is not None
    )


class AttributionSettingsForm(forms.ModelForm):
    click_window_days = forms.IntegerField(
        label="Click window (days)",
        min_value=1,
        max_value=MAX_CLICK_DAYS,
        help_text="A conversion is credited to the contact's last click this recent "
        f"(1–{MAX_CLICK_DAYS}).",
    )
    delivered_window_hours = forms.IntegerField(
        label="Delivered window (hours)",
        min_value=0,
        max_value=MAX_DELIVERED_HOURS,
        help_text="Without such a click, to the last message delivered this recent "
        f"(0–{MAX_DELIVERED_HOURS}; 0: only clicks earn credit).",
    )
    currency = forms.ChoiceField(
        label="Revenue currency",
        choices=currency_choices,
        help_text="Conversions report revenue in it; Herald converts no currencies, so it "
        "cannot change once revenue is recorded.",
    )

    class Meta:
        model = Workspace
        fields = ["click_window_days", "delivered_window_hours", "currency"]

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"]
        current = self.instance.currency
        if (
            currency != current
            and Conversion.objects.for_workspace(self.instance).filter(revenue__gt=0).exists()
        ):
            raise forms.ValidationError(
                f"Revenue is already recorded in {current}: the currency cannot change "
                "(Herald converts no currencies)."
            )
        return currency
