import phonenumbers
from django import forms

from core.forms import RegionField, TimeZoneField

from .models import Membership, Workspace


class WorkspaceSettingsForm(forms.ModelForm):
    default_region = RegionField(label="Default country for phone numbers")
    timezone = TimeZoneField(label="Time zone")

    class Meta:
        model = Workspace
        fields = [
            "name",
            "default_region",
            "timezone",
            "quiet_start_hour",
            "quiet_end_hour",
            "frequency_cap",
            "frequency_cap_hours",
            "send_countries",
            "daily_send_limit",
            "ai_daily_tokens",
            "members_can_delete",
        ]
        labels = {
            "quiet_start_hour": "Quiet hours end (sending allowed from)",
            "quiet_end_hour": "Quiet hours start (sending allowed until)",
            "frequency_cap": "Frequency cap: campaign messages per contact",
            "frequency_cap_hours": "Frequency cap period (hours)",
            "send_countries": "Countries SMS and calls may go to",
            "daily_send_limit": "Daily send limit (messages)",
            "ai_daily_tokens": "Daily AI budget (tokens)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].show_current(self.instance.timezone)

    def clean_send_countries(self) -> str:
        codes = self.cleaned_data.get("send_countries", "").replace(",", " ").upper().split()
        unknown = [code for code in codes if code not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise forms.ValidationError(
                f"Not a country code: {', '.join(unknown[:5])}. Use ISO codes such as US, GB, DE."
            )
        return " ".join(sorted(set(codes)))

    def clean_daily_send_limit(self):
        limit = self.cleaned_data.get("daily_send_limit")
        if limit is not None and not 1 <= limit <= 100_000_000:
            raise forms.ValidationError("At least 1 (blank for no limit).")
        return limit

    def clean_ai_daily_tokens(self):
        tokens = self.cleaned_data.get("ai_daily_tokens")
        if tokens is not None and not 1_000 <= tokens <= 1_000_000_000:
            raise forms.ValidationError(
                "Between 1,000 and 1,000,000,000 tokens (blank for the server's default)."
            )
        return tokens

    def clean(self):
        data = super().clean()
        start, end = data.get("quiet_start_hour"), data.get("quiet_end_hour")
        if start is not None and end is not None and not (0 <= start < end <= 24):
            self.add_error("quiet_end_hour", "Hours run 0–24 and the end must be after the start.")
        if data.get("frequency_cap") == 0:
            self.add_error("frequency_cap", "At least 1, or blank for no limit.")
        hours = data.get("frequency_cap_hours")
        if hours is not None and not 1 <= hours <= 24 * 90:
            self.add_error("frequency_cap_hours", "Between 1 hour and 90 days (2160 hours).")
        return data


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where the key is used, e.g. “CRM sync”.")


def role_choices(by: Membership) -> list[tuple[str, str]]:
    """The roles `by` may give: an owner any, an admin admin or member."""
    roles = Membership.Role.choices
    return roles if by.role == Membership.Role.OWNER else roles[1:]


class MemberInviteForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)

    def __init__(self, *args, by: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(by)


class InvitationSignupForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="What you log in with.")
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password_again = forms.CharField(
        label="Password (again)",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data
