"""The one definition of contact search and filters (C5), used by the list page, batch
operations over "all N matching", exports and the API alike."""

import json
import re
from datetime import timedelta

import django_filters
from django import forms
from django.db import connection
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils.timezone import now

from .models import Contact, ContactGroup, Tag

YES_NO_ANY = forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])

# Smart groups (the audiences app, above contacts) filter contacts through this hook, set when
# that app loads: (workspace, smart group id) → a Q over contacts, or None when the workspace
# has no such smart group (which then matches no one, never everyone).
smart_group_q = None
PHONE_LIKE = re.compile(r"^[\d\s()+.\-]{3,}$")


# The same expression as the trigram index of migration 0002 (PostgreSQL), so a search by
# name or email is an index scan at a million contacts; on SQLite it is a plain scan.
SEARCH_TEXT = (
    "lower(contacts_contact.first_name || ' ' || contacts_contact.last_name"
    " || ' ' || contacts_contact.email)"
)


# In list order, but through an expression no index can serve, so the planner collects the
# matches with the trigram index and sorts them. Without it, a LIMIT makes PostgreSQL walk the
# created_at index hoping to meet 25 matches early, which reads the whole table when the
# matches are few or sit among old rows (measured: 4.5 s at 1M contacts). When the matches are
# many, walking the index is the fast way, so the plan is chosen from the planner's estimate.
SEARCH_ORDER = (Coalesce("created_at", "created_at").desc(), F("id").desc())
FEW_MATCHES = 5000


def estimated_rows(queryset) -> int:
    """PostgreSQL's estimate of the rows `queryset` returns (no COUNT: ~1-3 ms to plan)."""
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


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


def search_ordered(queryset):
    """`queryset` (searched) in list order, by the plan that suits how many rows match."""
    if connection.vendor != "postgresql" or estimated_rows(queryset) > FEW_MATCHES:
        return queryset
    return queryset.order_by(*SEARCH_ORDER)


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
    clicked_within_days = django_filters.NumberFilter(
        method="filter_clicked_within_days",
        label="Clicked in the last N days",
        min_value=1,
        max_value=3650,
        widget=forms.NumberInput(attrs={"min": 1, "max": 3650, "placeholder": "Days"}),
    )
    has_converted = django_filters.BooleanFilter(
        method="filter_has_converted", label="Has converted", widget=YES_NO_ANY
    )
    smart_group = django_filters.NumberFilter(
        method="filter_smart_group", label="Smart group", widget=forms.HiddenInput
    )

    class Meta:
        model = Contact
        fields: list[str] = []

    def __init__(self, data=None, *args, workspace, **kwargs):
        super().__init__(data, *args, queryset=Contact.objects.for_workspace(workspace), **kwargs)
        self.workspace = workspace
        self.filters["group"].queryset = ContactGroup.objects.for_workspace(workspace)
        self.filters["tag"].queryset = Tag.objects.for_workspace(workspace)

    @property
    def qs(self):
        # django-filter drops an invalid value and filters by the rest: a bad date or another
        # workspace's group would then mean "every contact", for an export or a bulk delete.
        if self.is_bound and not self.form.is_valid():
            return self.queryset.none()
        if not hasattr(self, "_qs"):
            queryset = super().qs
            if (self.form.cleaned_data.get("search") or "").strip():
                queryset = search_ordered(queryset)
            self._qs = queryset
        return self._qs

    def filter_search(self, queryset, name, value):
        return contacts_search(queryset, value)

    def filter_has_phone(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(phone="") if value else queryset.filter(phone="")

    def filter_clicked_within_days(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(last_clicked_at__gte=now() - timedelta(days=int(value)))

    def filter_has_converted(self, queryset, name, value):
        if value is None:
            return queryset
        return (
            queryset.filter(conversion_count__gt=0)
            if value
            else queryset.filter(conversion_count=0)
        )

    def filter_smart_group(self, queryset, name, value):
        if value is None:
            return queryset
        if value != int(value) or not 1 <= value < 2**63:
            return queryset.none()
        q = smart_group_q(self.workspace, int(value)) if smart_group_q else None
        return queryset.none() if q is None else queryset.filter(q)

    def filter_has_email(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(email="") if value else queryset.filter(email="")
