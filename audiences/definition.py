"""A smart group's definition, checked: `{"match", "conditions", "exclude_group_ids"}` (G1).

Every problem is reported at its place ("conditions.2.op", "exclude_group_ids.0") with a
message that names what is wrong, so the API can answer 422 and the editor can show it beside
the condition. Nothing is stored or counted from a definition that did not pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from accounts.models import Workspace
from contacts.models import ContactGroup

from .fields import NEGATIONS, GroupKind, Kind, field_kind
from .values import Invalid, group_id

MAX_CONDITIONS = 50
MAX_EXCLUDED = 50
CONDITION_KEYS = {"field", "op", "value"}


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any  # as given (stored and shown back)
    kind: Kind
    cleaned: Any  # as the kind compiles it

    @property
    def positive_op(self) -> str:
        return NEGATIONS.get(self.op, self.op)

    def as_json(self) -> dict:
        shown = {"field": self.field, "op": self.op}
        return shown if self.value is None else shown | {"value": self.value}


@dataclass(frozen=True)
class Definition:
    match: str
    conditions: tuple[Condition, ...]
    exclude_group_ids: tuple[int, ...]

    def as_json(self) -> dict:
        return {
            "match": self.match,
            "conditions": [c.as_json() for c in self.conditions],
            "exclude_group_ids": list(self.exclude_group_ids),
        }

    def group_ids(self) -> list[tuple[str, int]]:
        """(place, id) of every group the definition names, for the workspace check."""
        named = [(f"exclude_group_ids.{i}", pk) for i, pk in enumerate(self.exclude_group_ids)]
        for i, c in enumerate(self.conditions):
            if isinstance(c.kind, GroupKind):
                ids = c.cleaned if isinstance(c.cleaned, list) else [c.cleaned]
                named += [(f"conditions.{i}.value", pk) for pk in ids]
        return named


class Errors:
    def __init__(self):
        self.by_place: dict[str, list[str]] = {}

    def add(self, place: str, message: str) -> None:
        self.by_place.setdefault(place, []).append(message)

    def raise_any(self) -> None:
        if self.by_place:
            raise ValidationError(self.by_place)


def parse_condition(raw: Any, place: str, errors: Errors) -> Condition | None:
    if not isinstance(raw, dict):
        errors.add(place, "A condition is an object with field, op and value.")
        return None
    extra = sorted(str(key)[:40] for key in raw if key not in CONDITION_KEYS)
    if extra:
        errors.add(
            place,
            f"Unexpected {', '.join(extra)}: a condition is {{field, op, value}} and conditions "
            "do not nest.",
        )
        return None
    field, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    try:
        kind = field_kind(field)
    except Invalid as exc:
        errors.add(f"{place}.field", str(exc))
        return None
    if op not in kind.ops:
        shown = op[:40] if isinstance(op, str) else op
        errors.add(
            f"{place}.op",
            f"Unknown operator “{shown}” for {field}; it takes {', '.join(kind.ops)}.",
        )
        return None
    positive = NEGATIONS.get(op, op)
    try:
        cleaned = kind.clean(positive, value)
    except Invalid as exc:
        errors.add(f"{place}.value", f"{field} {op}: {exc}")
        return None
    return Condition(field=field, op=op, value=value, kind=kind, cleaned=cleaned)


def definition_parse(data: Any) -> Definition:
    """The definition read and checked on its own (not against the workspace's groups)."""
    errors = Errors()
    if not isinstance(data, dict):
        raise ValidationError({"__all__": ["A definition is an object."]})
    match = data.get("match", "all")
    if match not in ("all", "any"):
        errors.add("match", "Give “all” or “any”.")
    raw_conditions = data.get("conditions") or []
    if not isinstance(raw_conditions, list):
        errors.add("conditions", "Give a list of conditions.")
        raw_conditions = []
    if len(raw_conditions) > MAX_CONDITIONS:
        errors.add("conditions", f"A smart group has at most {MAX_CONDITIONS} conditions.")
        raw_conditions = []
    conditions = [
        parse_condition(raw, f"conditions.{i}", errors) for i, raw in enumerate(raw_conditions)
    ]
    excluded = data.get("exclude_group_ids") or []
    if not isinstance(excluded, list) or len(excluded) > MAX_EXCLUDED:
        errors.add("exclude_group_ids", f"Give a list of at most {MAX_EXCLUDED} group ids.")
        excluded = []
    for i, pk in enumerate(excluded):
        try:
            group_id(pk)
        except Invalid as exc:
            errors.add(f"exclude_group_ids.{i}", str(exc))
    errors.raise_any()
    return Definition(
        match=match, conditions=tuple(conditions), exclude_group_ids=tuple(dict.fromkeys(excluded))
    )


def definition_clean(*, workspace: Workspace, data: Any) -> Definition:
    """The definition checked, including that every group it names is this workspace's."""
    definition = definition_parse(data)
    named = definition.group_ids()
    found = set(
        ContactGroup.objects.for_workspace(workspace)
        .filter(pk__in={pk for _, pk in named})
        .values_list("pk", flat=True)
    )
    errors = Errors()
    for place, pk in named:
        if pk not in found:
            errors.add(place, f"Group {pk} is not a group of this workspace.")
    errors.raise_any()
    return definition
