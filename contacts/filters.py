"""The one definition of contact search and filters (C5), used by the list page, batch
operations over "all N matching", exports and the API alike."""

import re

import django_filters
from django import forms
from django.db.models import Q

from .models import Contact, ContactGroup, Tag

PHONE_LIKE = re.compile(r"^[\d\s()+.\-]{3,}$")


class ContactFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, phone or email"}),
    )
    group = django_filters.ModelChoiceFilter(
        field_name="memberships__group",
        queryset=ContactGroup.objects.none(),
        empty_label="All groups",
    )
    status = django_filters.ChoiceFilter(choices=Contact.Status.choices, empty_label="Any status")
    has_phone = django_filters.BooleanFilter(method="filter_has_phone", label="Has phone")
    has_email = django_filters.BooleanFilter(method="filter_has_email", label="Has email")
    tag = django_filters.ModelChoiceFilter(
        field_name="tags", queryset=Tag.objects.none(), to_field_name="name", empty_label="Any tag"
    )
    is_valid = django_filters.BooleanFilter(label="Valid")
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

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if PHONE_LIKE.match(value):
            digits = re.sub(r"\D", "", value)
            return queryset.filter(phone__contains=digits) if digits else queryset
        if "@" in value:
            return queryset.filter(email__startswith=value.lower())
        condition = Q()
        for word in value.split()[:4]:
            condition &= (
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(email__icontains=word.lower())
            )
        return queryset.filter(condition)

    def filter_has_phone(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(phone="") if value else queryset.filter(phone="")

    def filter_has_email(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(email="") if value else queryset.filter(email="")
