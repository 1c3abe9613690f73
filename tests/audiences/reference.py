"""A plain-Python evaluation of smart-group definitions, written from the documented meaning
of each field and operator, not from the compiler: the property test holds the SQL to it.

A contact here is a dict: its fields, `metadata`, `tags` (names), `groups` (ids),
`created_at`, and event times `sent`, `delivered`, `replied`, `clicked` (by people only),
`converted` (lists of datetimes).
"""

import json
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from audiences.sql import DATE_PATTERN, NUMBER_MAX_LENGTH, NUMBER_PATTERN

TEXT_FIELDS = ("first_name", "last_name", "email", "phone", "company", "timezone")
NEGATIVE = {"neq": "eq", "not_in": "in", "not_set": "set", "not_within_days": "within_days"}


def text_form(value):
    """A custom field's value as text: strings as they are, other JSON as JSON, null missing."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def as_number(text):
    if text is None or len(text) > NUMBER_MAX_LENGTH or not re.search(NUMBER_PATTERN, text):
        return None
    return float(text)


def fold(text: str) -> str:
    """Case is ignored for A-Z only (README: the same on both databases)."""
    return "".join(chr(ord(ch) + 32) if "A" <= ch <= "Z" else ch for ch in text)


def as_date(text):
    return text[:10] if text is not None and re.search(DATE_PATTERN, text) else None


class Reference:
    def __init__(self, now: datetime, zone: str):
        self.now = now
        self.zone = ZoneInfo(zone)
        self.today = now.astimezone(self.zone).date()

    def start(self, day: str, plus: int = 0) -> datetime:
        moment = date.fromisoformat(day) + timedelta(days=plus)
        return datetime.combine(moment, time(), tzinfo=self.zone)

    def matches(self, definition: dict, contact: dict) -> bool:
        if set(contact["groups"]) & set(definition.get("exclude_group_ids", [])):
            return False
        results = [self.condition(c, contact) for c in definition.get("conditions", [])]
        if not results:
            return True
        return all(results) if definition.get("match", "all") == "all" else any(results)

    def condition(self, condition: dict, contact: dict) -> bool:
        op, value = condition["op"], condition.get("value")
        if op in NEGATIVE:
            return not self.condition({**condition, "op": NEGATIVE[op]}, contact)
        field = condition["field"]
        if field.startswith("metadata."):
            return self.custom(op, value, text_form(contact["metadata"].get(field[9:])))
        if field in TEXT_FIELDS or field in ("status", "opt_out_reason"):
            return self.text(op, value, contact[field])
        if field == "tag":
            tags = set(contact["tags"])
            return bool(tags) if op == "set" else bool(tags & set(value if op == "in" else [value]))
        if field == "group":
            return bool(set(contact["groups"]) & set(value if op == "in" else [value]))
        if field == "created_at":
            return self.moment(op, value, contact["created_at"])
        times = [t for t in contact[EVENTS[field]] if t is not None]
        return self.latest(op, value, max(times) if times else None)

    def text(self, op, value, text: str) -> bool:
        if op == "set":
            return text != ""
        if op == "contains":
            return fold(value) in fold(text)
        if op == "in":
            return fold(text) in {fold(v) for v in value}
        return fold(text) == fold(value)

    def custom(self, op, value, text) -> bool:
        if text is None:
            return False
        if op == "set":
            return text != ""
        if op == "within_days":
            day = as_date(text)
            low, high = sorted([self.today, self.today - timedelta(days=value)])
            return day is not None and low.isoformat() <= day <= high.isoformat()
        if op in ("gt", "gte", "lt", "lte"):
            mine = as_date(text) if isinstance(value, str) else as_number(text)
            return mine is not None and COMPARE[op](mine, value)
        if isinstance(value, bool):
            value = "true" if value else "false"
        numeric = isinstance(value, int | float) or (
            isinstance(value, list) and not isinstance(value[0], str)
        )
        if numeric:
            mine = as_number(text)
            wanted = value if isinstance(value, list) else [value]
            return mine is not None and mine in [float(v) for v in wanted]
        return self.text(op, value, text)

    def moment(self, op, value, at: datetime) -> bool:
        if op == "within_days":
            return at >= self.now - timedelta(days=value)
        if op == "eq":
            return self.start(value) <= at < self.start(value, 1)
        bound = {"gt": self.start(value, 1), "gte": self.start(value)}.get(op)
        if bound is not None:
            return at >= bound
        return at < (self.start(value) if op == "lt" else self.start(value, 1))

    def latest(self, op, value, last: datetime | None) -> bool:
        """Engagement: `last` is the latest time it happened, None when it never did."""
        if last is None:
            return False
        return op == "set" or self.moment(op, value, last)


EVENTS = {
    "last_contacted_at": "sent",
    "delivered": "delivered",
    "replied": "replied",
    "clicked": "clicked",
    "converted": "converted",
}
COMPARE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}
