"""The smart-group editor's form: its rows read into the definition the API takes (G1).

The editor posts one row per condition (`field-N`, `op-N`, `value-N`) as text; this module
turns each into the JSON value its field and operator take (a number of days, a group id, a
list for "is any of", a number for a custom field when it reads as one), so the editor and the
API write the same definitions and `definition_clean` checks both alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Subquery

from accounts.models import Workspace
from contacts.export import metadata_keys
from contacts.models import Contact, ContactGroup, Tag

from .fields import FIELDS, METADATA_PREFIX, OPERATORS, field_kind
from .values import Invalid

OP_LABELS = {
    "eq": "is",
    "neq": "is not",
    "contains": "contains",
    "set": "is set",
    "not_set": "is empty",
    "gt": "after / more than",
    "gte": "on or after / at least",
    "lt": "before / less than",
    "lte": "on or before / at most",
    "in": "is any of",
    "not_in": "is none of",
    "within_days": "within the last N days",
    "not_within_days": "not within the last N days",
}
FIELD_LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "email": "Email",
    "phone": "Phone",
    "company": "Company",
    "timezone": "Time zone",
    "status": "Status",
    "opt_out_reason": "Opt-out reason",
    "tag": "Tag",
    "group": "Group",
    "created_at": "Created",
    "last_contacted_at": "Last contacted",
    "delivered": "Delivered a message",
    "replied": "Replied",
    "clicked": "Clicked a link",
    "converted": "Converted",
}
ENGAGEMENT = ("last_contacted_at", "delivered", "replied", "clicked", "converted")
NO_VALUE = ("set", "not_set")
LISTS = ("in", "not_in")
DAYS = ("within_days", "not_within_days")
KEY_SAMPLE = 5000  # custom-field keys are read from the newest contacts only
MAX_ROWS = 60
NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class Row:
    """One condition of the editor as posted, with the error shown beside it."""

    field: str = "tag"
    op: str = "eq"
    value: str = ""
    error: str = ""
    choices: list | None = None  # a select's options instead of a text input (see with_choices)

    @property
    def multiple(self) -> bool:
        """Its select takes several values ("is any of", "is none of")."""
        return self.op in LISTS

    @property
    def size(self) -> int:
        return min(len(self.choices or ()), 6)

    @property
    def selected(self) -> list[str]:
        return [item.strip() for item in self.value.split(",")] if self.multiple else [self.value]

    @property
    def ops(self) -> list[tuple[str, str]]:
        try:
            ops = field_kind(self.field).ops
        except Invalid:
            ops = OPERATORS
        return [(op, OP_LABELS[op]) for op in ops]

    @property
    def takes_value(self) -> bool:
        return self.op not in NO_VALUE


@dataclass
class Posted:
    name: str
    definition: dict
    rows: list[Row]
    exclude_group_ids: list[int] = field(default_factory=list)


def field_choices(workspace: Workspace) -> list[tuple[str, list[tuple[str, str]]]]:
    """The field select's option groups: contact fields, the workspace's custom fields (keys
    read from its newest contacts), engagement."""
    newest = Contact.objects.for_workspace(workspace).order_by("-id").values("id")[:KEY_SAMPLE]
    keys = metadata_keys(Contact.objects.filter(id__in=Subquery(newest)))
    contact = [(name, FIELD_LABELS[name]) for name in FIELDS if name not in ENGAGEMENT]
    custom = [(f"{METADATA_PREFIX}{key}", key) for key in keys]
    engagement = [(name, FIELD_LABELS[name]) for name in ENGAGEMENT]
    return [("Contact", contact), ("Custom fields", custom), ("Engagement", engagement)]


def value_hints(workspace: Workspace) -> dict[str, list]:
    """What the value inputs offer: the workspace's tags and groups, statuses, reasons."""
    return {
        "tags": list(Tag.objects.for_workspace(workspace).values_list("name", flat=True)[:500]),
        "groups": list(ContactGroup.objects.for_workspace(workspace).values_list("pk", "name")),
        "statuses": Contact.Status.choices,
        "reasons": Contact.OptOutReason.choices,
    }


CHOICE_FIELDS = {"group": "groups", "status": "statuses", "opt_out_reason": "reasons"}


def with_choices(rows: list[Row], hints: dict) -> None:
    """Rows that compare with values of a known set (a group, a status, a reason) get a
    select of them, one that takes several for the lists ("is any of")."""
    for row in rows:
        if row.field in CHOICE_FIELDS and row.op in ("eq", "neq", *LISTS):
            row.choices = [(str(value), label) for value, label in hints[CHOICE_FIELDS[row.field]]]


def rows_of(definition: dict) -> list[Row]:
    """A saved definition as editor rows (lists joined with commas)."""
    rows = []
    for condition in definition.get("conditions") or []:
        value = condition.get("value")
        if isinstance(value, list):
            value = ", ".join(_text(v) for v in value)
        rows.append(
            Row(
                field=condition.get("field", ""),
                op=condition.get("op", ""),
                value="" if value is None else _text(value),
            )
        )
    return rows


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_post(post) -> Posted:
    """The editor's POST read: name, match, rows (in their posted order) and exclusions."""
    indices = sorted(
        int(key.removeprefix("field-"))
        for key in post
        if key.startswith("field-") and key.removeprefix("field-").isdigit()
    )[:MAX_ROWS]
    rows = [
        Row(
            field=post.get(f"field-{i}", ""),
            op=post.get(f"op-{i}", ""),
            # A list's select posts each value it has selected; a text input posts one.
            value=", ".join(v.strip() for v in post.getlist(f"value-{i}") if v.strip()),
        )
        for i in indices
    ]
    for row in rows:  # a new field keeps the operator if it has it, else takes its first
        ops = [op for op, _ in row.ops]
        if row.op not in ops:
            row.op = ops[0]
    excluded = [int(pk) for pk in post.getlist("exclude_group_ids") if pk.isdigit()]
    definition = {
        "match": post.get("match", "all"),
        "conditions": [condition_of(row) for row in rows],
        "exclude_group_ids": excluded,
    }
    return Posted(post.get("name", ""), definition, rows, excluded)


def condition_of(row: Row) -> dict:
    condition = {"field": row.field, "op": row.op}
    value = _value(row)
    return condition if value is None else condition | {"value": value}


def _value(row: Row) -> Any:
    """The row's text as the JSON value its field and operator take."""
    text = row.value
    if row.op in NO_VALUE:
        return None
    if row.op in DAYS:
        return int(text) if re.fullmatch(r"-?\d{1,9}", text) else text
    custom = row.field.startswith(METADATA_PREFIX)
    if row.op in LISTS:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if row.field == "group":
            return [int(i) if i.isdigit() else i for i in items]
        if custom and items and all(NUMBER.fullmatch(i) for i in items):
            return [float(i) for i in items]
        return items
    if row.field == "group":
        return int(text) if text.isdigit() else text
    if custom and row.op != "contains" and not DATE.fullmatch(text) and NUMBER.fullmatch(text):
        return float(text)
    return text


def row_errors(rows: list[Row], errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Put each condition's errors beside its row; return the others (name, match, …)."""
    general: dict[str, list[str]] = {}
    for place, messages in errors.items():
        match = re.fullmatch(r"conditions\.(\d+)(\..+)?", place)
        if match and int(match.group(1)) < len(rows):
            rows[int(match.group(1))].error = " ".join(messages)
        else:
            general[place] = messages
    return general
