from django import forms

from core.forms import TimeZoneField

from .models import Contact, ContactGroup

METADATA_ROWS_EMPTY = 2


class ContactForm(forms.Form):
    """Create / edit one contact (C6). Values are checked and normalised by the services."""

    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    phone = forms.CharField(
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        help_text="Any format; stored as E.164 (e.g. +14155551234).",
    )
    email = forms.CharField(
        max_length=254, required=False, widget=forms.TextInput(attrs={"type": "email"})
    )
    company = forms.CharField(max_length=200, required=False)
    timezone = TimeZoneField(
        required=False,
        blank_label="From the phone number",
        help_text="Leave it to the phone number, or choose the contact's zone.",
    )
    tags = forms.CharField(
        required=False, help_text="Comma-separated, e.g. vip, newsletter.", max_length=1000
    )
    groups = forms.ModelMultipleChoiceField(
        queryset=ContactGroup.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = ContactGroup.objects.for_workspace(workspace)
        self.fields["timezone"].show_current((self.initial or {}).get("timezone", ""))
        self.metadata_rows: list[tuple[str, str]] = []

    @classmethod
    def initial_for(cls, contact: Contact) -> dict:
        return {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "phone": contact.phone,
            "email": contact.email,
            "company": contact.company,
            "timezone": contact.timezone,
            "tags": ", ".join(t.name for t in contact.tags.all()),
            "groups": list(contact.groups.all()),
        }

    def read_metadata(self, post) -> dict:
        """Custom fields from the key/value rows (meta_key / meta_value); errors on the form."""
        keys, values = post.getlist("meta_key"), post.getlist("meta_value")
        metadata: dict[str, str] = {}
        self.metadata_rows = []
        for key, value in zip(keys, values, strict=False):
            key, value = key.strip(), value.strip()
            self.metadata_rows.append((key, value))
            if not key and not value:
                continue
            if not key:
                self.add_error(None, f"Give the custom field with value “{value}” a name.")
            elif len(key) > 64:
                self.add_error(None, "A custom field name has at most 64 characters.")
            elif key in metadata:
                self.add_error(None, f"The custom field “{key}” is given twice.")
            else:
                metadata[key] = value
        return metadata

    def service_data(self, metadata: dict) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "groups"}
        data["metadata"] = metadata
        return data

    def rows_for_display(self, contact: Contact | None = None) -> list[tuple[str, str]]:
        rows = list(self.metadata_rows)
        if not rows and contact is not None:
            rows = [(k, "" if v is None else str(v)) for k, v in contact.metadata.items()]
        return rows + [("", "")] * METADATA_ROWS_EMPTY


class GroupForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


class OptOutForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[
            (Contact.OptOutReason.MANUAL, "Opted out manually"),
            (Contact.OptOutReason.COMPLAINT, "Spam complaint"),
            (Contact.OptOutReason.INVALID_CONTACT, "Invalid contact"),
        ],
        initial=Contact.OptOutReason.MANUAL,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(required=False, max_length=255, label="Note (optional)")


class DeleteAllForm(forms.Form):
    confirm = forms.CharField(label="Type the workspace slug to confirm", max_length=60)

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip()
        if value != self.workspace.slug:
            raise forms.ValidationError(
                f"Type “{self.workspace.slug}” exactly to delete every contact."
            )
        return value
