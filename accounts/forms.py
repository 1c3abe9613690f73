from django import forms

from core.forms import RegionField, TimeZoneField

from .models import Workspace


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
            "members_can_delete",
        ]
        labels = {
            "quiet_start_hour": "Quiet hours end (sending allowed from)",
            "quiet_end_hour": "Quiet hours start (sending allowed until)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].show_current(self.instance.timezone)

    def clean(self):
        data = super().clean()
        start, end = data.get("quiet_start_hour"), data.get("quiet_end_hour")
        if start is not None and end is not None and not (0 <= start < end <= 24):
            self.add_error("quiet_end_hour", "Hours run 0–24 and the end must be after the start.")
        return data


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where the key is used, e.g. “CRM sync”.")
