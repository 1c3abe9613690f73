"""The one definition of contact search and filters (C5), used by the list page, batch
operations over "all N matching", exports and the API alike."""

import re

import django_filters
from django import forms
from django.db.models.expressions import RawSQL

from .models import Contact, ContactGroup, Tag

YES_NO_ANY = forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])
PHONE_LIKE = re.compile(r"^[\d\s()+.\-]{3,}$")


# The same expression as the trigram index of migration 0002 (PostgreSQL), so a search by
# name or email is an index scan at a million contacts; on SQLite it is a plain scan.
SEARCH_TEXT = (
    "lower(contacts_contact.first_name || ' ' || contacts_contact.last_name"
    " || ' ' || contacts_contact.email)"
)


def contacts_search(queryset, value: str):
    """Contacts whose name or email contains every word, or whose phone contains the digits."""
    value = (value or "").strip()
    if not value:
        return queryset
    if PHONE_LIKE.match(value):
        digits = re.sub(r"\D", "", value)
        return queryset.filter(phone__contains=digits) if digits else queryset
    queryset = queryset.alias(search_text=RawSQL(SEARCH_TEXT, ()))
    for word in value.lower().split()[:4]:
        queryset = queryset.filter(search_text__contains=word)
    return queryset


class ContactFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, phone or email"}),
    )
    group = django_filters.ModelChoiceFilter(
        field_name="memberships__group",
        label="Group",
        queryset=ContactGroup.objects.none(),
        empty_label="All groups",
    )
    status = django_filters.ChoiceFilter(choices=Contact.Status.choices, empty_label="Any status")
    has_phone = django_filters.BooleanFilter(
        method="filter_has_phone", label="Has phone", widget=YES_NO_ANY
    )
    has_email = django_filters.BooleanFilter(
        method="filter_has_email", label="Has email", widget=YES_NO_ANY
    )
    tag = django_filters.ModelChoiceFilter(
        field_name="tags",
        label="Tag",
        queryset=Tag.objects.none(),
        to_field_name="name",
        empty_label="Any tag",
    )
    is_valid = django_filters.BooleanFilter(label="Valid", widget=YES_NO_ANY)
    created_after = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        label="Created from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    created_before = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        label="Created until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Contact
        fields: list[str] = []

    def __init__(self, data=None, *args, workspace, **kwargs):
        super().__init__(data, *args, queryset=Contact.objects.for_workspace(workspace), **kwargs)
        self.filters["group"].queryset = ContactGroup.objects.for_workspace(workspace)
        self.filters["tag"].queryset = Tag.objects.for_workspace(workspace)

    @property
    def qs(self):
        # django-filter drops an invalid value and filters by the rest: a bad date or another
        # workspace's group would then mean "every contact", for an export or a bulk delete.
        if self.is_bound and not self.form.is_valid():
            return self.queryset.none()
        return super().qs

    def filter_search(self, queryset, name, value):
        return contacts_search(queryset, value)

    def filter_has_phone(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(phone="") if value else queryset.filter(phone="")

    def filter_has_email(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(email="") if value else queryset.filter(email="")
