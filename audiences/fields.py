"""The fields a smart-group condition can test, what each operator needs and its SQL (G1, G3).

Each field has a kind. A kind checks a condition's value and compiles the positive operators
(eq, in, set, contains, the comparisons, within_days) to one Q over contacts: a plain column
test, a JSON operator of the database, or an EXISTS subquery. The negative operators are the
NOT of their positive twin, decided once in `compiler`, so a new field is a kind (or an
existing one with other arguments) and one line in FIELDS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.db.models.lookups import Contains as ContainsLookup
from django.db.models.lookups import Exact, In

from contacts.models import Contact, GroupMembership
from engagement.models import Click, Conversion
from messaging.models import InboundMessage, Message

from .sql import (
    AsciiLower,
    MetaText,
    Scope,
    ascii_lower,
    compare,
    date_compare,
    day_range,
    meta_number,
)
from .values import (
    Invalid,
    date_value,
    days_value,
    group_id,
    list_value,
    no_value,
    number_value,
    text_value,
)

NEGATIONS = {"neq": "eq", "not_in": "in", "not_set": "set", "not_within_days": "within_days"}
OPERATORS = (
    "eq", "neq", "contains", "set", "not_set", "gt", "gte", "lt", "lte", "in", "not_in",
    "within_days", "not_within_days",
)  # fmt: skip
COMPARISONS = ("gt", "gte", "lt", "lte")

# Kinds ----------------------------------------------------------------------------------------


class Kind:
    """A field kind: its operators, the check of a value and the SQL of a positive operator."""

    ops: tuple[str, ...] = ()
    # True when the SQL can be NULL (a missing custom field): a negation must then treat
    # NULL as "no match", where a plain NOT would leave the contact out.
    nullable = False

    def clean(self, op: str, value: Any) -> Any:
        raise NotImplementedError

    def match(self, op: str, value: Any, scope: Scope) -> Q:
        raise NotImplementedError


@dataclass(frozen=True)
class TextKind(Kind):
    """A text column of the contact, compared without regard to case."""

    column: str
    ops = ("eq", "neq", "contains", "set", "not_set", "in", "not_in")

    def clean(self, op, value):
        if op in ("set", "not_set"):
            return no_value(value)
        if op in ("in", "not_in"):
            return list_value(value, text_value)
        return text_value(value)

    def match(self, op, value, scope):
        column = AsciiLower(self.column)
        if op == "set":
            return ~Q(**{self.column: ""})
        if op == "in":
            return Q(In(column, sorted({ascii_lower(v) for v in value})))
        if op == "contains":
            return Q(ContainsLookup(column, ascii_lower(value)))
        return Q(Exact(column, ascii_lower(value)))


@dataclass(frozen=True)
class ChoiceKind(Kind):
    """A column holding one of a few fixed values (status, opt-out reason)."""

    column: str
    choices: tuple[str, ...]
    ops: tuple[str, ...] = ("eq", "neq", "in", "not_in")

    def choice(self, value):
        if value not in self.choices:
            raise Invalid(f"Give one of: {', '.join(self.choices)}.")
        return value

    def clean(self, op, value):
        if op in ("set", "not_set"):
            return no_value(value)
        if op in ("in", "not_in"):
            return list_value(value, self.choice)
        return self.choice(value)

    def match(self, op, value, scope):
        if op == "set":
            return ~Q(**{self.column: ""})
        return Q(**{f"{self.column}__in": value if op == "in" else [value]})


class TagKind(Kind):
    """The contact's tags, by name: has the tag, any of the tags, any tag at all."""

    ops = ("eq", "neq", "in", "not_in", "set", "not_set")

    def clean(self, op, value):
        if op in ("set", "not_set"):
            return no_value(value)
        if op in ("in", "not_in"):
            return list_value(value, text_value)
        return text_value(value)

    def match(self, op, value, scope):
        links = Contact.tags.through.objects.filter(contact_id=OuterRef("pk"))
        if op != "set":
            names = value if op == "in" else [value]
            links = links.filter(tag__workspace_id=scope.workspace_id, tag__name__in=names)
        return Q(Exists(links))


class GroupKind(Kind):
    """Membership of static groups: in this group, in any of these, in none of these."""

    ops = ("eq", "neq", "in", "not_in")

    def clean(self, op, value):
        return list_value(value, group_id) if op in ("in", "not_in") else group_id(value)

    def match(self, op, value, scope):
        ids = value if op == "in" else [value]
        return Q(
            Exists(GroupMembership.objects.filter(contact_id=OuterRef("pk"), group_id__in=ids))
        )


@dataclass(frozen=True)
class DateTimeKind(Kind):
    """A date-time column of the contact; dates are whole days in the workspace's zone."""

    column: str
    ops = ("eq", "neq", "gt", "gte", "lt", "lte", "within_days", "not_within_days")

    def clean(self, op, value):
        return days_value(value) if op == "within_days" else date_value(value)

    def match(self, op, value, scope):
        if op == "within_days":
            return Q(**{f"{self.column}__gte": scope.now - timedelta(days=value)})
        day = date.fromisoformat(value)
        start, end = scope.day_start(day), scope.day_start(day + timedelta(days=1))
        column = self.column
        return {
            "eq": Q(**{f"{column}__gte": start, f"{column}__lt": end}),
            "gt": Q(**{f"{column}__gte": end}),
            "gte": Q(**{f"{column}__gte": start}),
            "lt": Q(**{f"{column}__lt": start}),
            "lte": Q(**{f"{column}__lt": end}),
        }[op]


class MetadataKind(Kind):
    """A custom field. Text operators compare its text form without regard to case; a number
    value compares numbers (42 matches "42" and 42.0), a date value compares dates written
    YYYY-MM-DD. A contact without the field matches none of the positive operators."""

    ops = OPERATORS
    nullable = True

    def __init__(self, key: str):
        self.key = key

    def clean(self, op, value):
        if op in ("set", "not_set"):
            return no_value(value)
        if op in ("within_days", "not_within_days"):
            return days_value(value, future=True)
        if op in COMPARISONS:
            return date_value(value) if isinstance(value, str) else number_value(value)
        if op in ("in", "not_in"):
            if isinstance(value, list) and value and not isinstance(value[0], str):
                return list_value(value, number_value)
            return list_value(value, text_value)
        if op == "contains":
            return text_value(value)
        if isinstance(value, bool):  # a JSON true/false, stored or given, reads as its text
            return "true" if value else "false"
        return text_value(value) if isinstance(value, str) else number_value(value)

    def match(self, op, value, scope):
        text = MetaText(self.key)
        if op == "set":
            return ~Q(Exact(text, ""))  # NULL (no match) when the field is missing
        if op == "within_days":
            low, high = day_range(scope, value)
            return date_compare(self.key, ("gte", low.isoformat()), ("lte", high.isoformat()))
        numeric = isinstance(value, float) or (
            isinstance(value, list) and isinstance(value[0], float)
        )
        if op in COMPARISONS:
            if isinstance(value, str):
                return date_compare(self.key, (op, value))
            return compare(op, meta_number(self.key), value)
        if op == "in":
            if numeric:
                return Q(In(meta_number(self.key), sorted(set(value))))
            return Q(In(AsciiLower(text), sorted({ascii_lower(v) for v in value})))
        if op == "contains":
            return Q(ContainsLookup(AsciiLower(text), ascii_lower(value)))
        if numeric:
            return compare("eq", meta_number(self.key), value)
        return Q(Exact(AsciiLower(text), ascii_lower(value)))


@dataclass(frozen=True)
class EventKind(Kind):
    """Something that happened to the contact, at a time: a message sent, delivered, a reply,
    a click, a conversion.

    `set` is "ever", `within_days` "in the last N days"; with `dates`, the comparisons test
    the latest time (last contacted before / after a day). `only` narrows the rows that count
    (a click counts when a person made it, not a link preview).
    """

    model: type
    time: str
    dates: bool = False
    only: tuple[tuple[str, Any], ...] = ()

    @property
    def ops(self):
        base = ("set", "not_set", "within_days", "not_within_days")
        return base + COMPARISONS if self.dates else base

    def clean(self, op, value):
        if op in ("set", "not_set"):
            return no_value(value)
        return days_value(value) if op == "within_days" else date_value(value)

    def since(self, scope: Scope, moment: datetime | None) -> Q:
        events = self.model.objects.filter(
            workspace_id=scope.workspace_id, contact_id=OuterRef("pk"), **dict(self.only)
        )
        if moment is None:
            return Q(Exists(events.filter(**{f"{self.time}__isnull": False})))
        return Q(Exists(events.filter(**{f"{self.time}__gte": moment})))

    def match(self, op, value, scope):
        if op == "set":
            return self.since(scope, None)
        if op == "within_days":
            return self.since(scope, scope.now - timedelta(days=value))
        day = date.fromisoformat(value)
        start, end = scope.day_start(day), scope.day_start(day + timedelta(days=1))
        if op in ("gt", "gte"):
            return self.since(scope, end if op == "gt" else start)
        return self.since(scope, None) & ~self.since(scope, start if op == "lt" else end)


FIELDS: dict[str, Kind] = {
    "first_name": TextKind("first_name"),
    "last_name": TextKind("last_name"),
    "email": TextKind("email"),
    "phone": TextKind("phone"),
    "company": TextKind("company"),
    "timezone": TextKind("timezone"),
    "status": ChoiceKind("status", tuple(Contact.Status.values)),
    "opt_out_reason": ChoiceKind(
        "opt_out_reason",
        tuple(Contact.OptOutReason.values),
        ops=("eq", "neq", "in", "not_in", "set", "not_set"),
    ),
    "tag": TagKind(),
    "group": GroupKind(),
    "created_at": DateTimeKind("created_at"),
    "last_contacted_at": EventKind(Message, "sent_at", dates=True),
    "delivered": EventKind(Message, "delivered_at"),
    "replied": EventKind(InboundMessage, "received_at"),
    "clicked": EventKind(Click, "clicked_at", only=(("kind", Click.Kind.HUMAN),)),
    "converted": EventKind(Conversion, "occurred_at"),
}
METADATA_PREFIX = "metadata."
MAX_KEY = 100


def field_kind(name: Any) -> Kind:
    """The kind of a condition's field; `metadata.<key>` names a custom field."""
    if not isinstance(name, str):
        raise Invalid("Give the field's name.")
    if name.startswith(METADATA_PREFIX):
        key = name[len(METADATA_PREFIX) :]
        if not key or len(key) > MAX_KEY or '"' in key or not key.isprintable():
            raise Invalid(f"“{name[:120]}” is not a custom field a smart group can test.")
        return MetadataKind(key)
    kind = FIELDS.get(name)
    if kind is None:
        raise Invalid(f"Unknown field “{name[:120]}”.")
    return kind
