"""The SQL pieces the field kinds are made of: custom fields read through the database's JSON
operators (PostgreSQL and SQLite), as text, numbers or dates, and the time scope."""

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import BooleanField, F, FloatField, Q, TextField
from django.db.models.expressions import Case, Func, When
from django.db.models.functions import Cast
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)

# A custom-field value counts as a number or a date only when its text looks like one, so a
# number or date condition on a text value is simply false, never a cast error. These are the
# rules (the tests' reference evaluation uses them as written); the SQL below spells them
# without a regular expression on PostgreSQL, where one costs ~2 µs a row, a second a count
# at a million contacts. \A and \Z: in Python "$" would also match before a final newline.
NUMBER_PATTERN = r"\A[-+]?[0-9]+(\.[0-9]+)?\Z"  # and at most 40 characters
NUMBER_MAX_LENGTH = 40
DATE_PATTERN = r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]|\Z)"  # compared by its first 10 characters


def ascii_lower(text: str) -> str:
    """Lower-case A-Z only, as the SQL does on both databases (see AsciiLower)."""
    return text.translate(ASCII_LOWER)


ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Scope:
    """What compiling needs besides the conditions: whose contacts, and when "now" is."""

    workspace_id: int
    now: datetime
    zone: ZoneInfo

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.zone)


class MetaText(Func):
    """A custom field's value as text, NULL when it is missing or JSON null.

    PostgreSQL's ->> gives strings unquoted and other JSON values as JSON text. SQLite's ->>
    gives booleans as 1/0, so there a string comes from ->> and anything else from ->, which
    keeps the JSON text (`true`, `42.0`) as stored.
    """

    output_field = TextField()

    def __init__(self, key: str):
        super().__init__(F("metadata"))
        self.key = key

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} ->> %s)", [*params, self.key]

    def as_sqlite(self, compiler, connection):
        # Django stores the JSON ASCII-escaped, and SQLite matches path labels as stored.
        column, params = compiler.compile(self.source_expressions[0])
        path = "$." + json.dumps(self.key)
        sql = (
            f"(CASE json_type({column}, %s) WHEN 'text' THEN {column} ->> %s "
            f"WHEN 'null' THEN NULL ELSE {column} -> %s END)"
        )
        return sql, [*params, path, *params, path, *params, path]


class AsciiLower(Func):
    """lower() of A-Z only. SQLite's lower() folds ASCII alone; PostgreSQL's follows the
    database's locale unless told "C", which is also about twice as fast per row."""

    function = "LOWER"
    output_field = TextField()

    def as_postgresql(self, compiler, connection):
        return self.as_sql(compiler, connection, template='LOWER((%(expressions)s) COLLATE "C")')


class Looks(Func):
    """True when a text looks like a number or a date (NUMBER_PATTERN, DATE_PATTERN)."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, text, kind: str):
        super().__init__(text)
        self.kind = kind

    def as_sqlite(self, compiler, connection):
        text, params = compiler.compile(self.source_expressions[0])
        pattern = NUMBER_PATTERN if self.kind == "number" else DATE_PATTERN
        if self.kind == "number":
            return f"(length({text}) <= %s AND {text} REGEXP %s)", [
                *params, NUMBER_MAX_LENGTH, *params, pattern
            ]  # fmt: skip
        return f"({text} REGEXP %s)", [*params, pattern]

    def as_postgresql(self, compiler, connection):
        text, params = compiler.compile(self.source_expressions[0])
        if self.kind == "number":
            # The regular expression runs only on short texts made of digits, signs and dots.
            sql = (
                f"(length({text}) <= %s AND translate({text}, '0123456789.+-', '') = '' "
                f"AND {text} ~ %s)"
            )
            return sql, [*params, NUMBER_MAX_LENGTH, *params, *params, NUMBER_PATTERN]
        # dddd-dd-dd, then the end or "T" or " ": LIKE places the dashes, translate() checks
        # that the other eight are digits.
        sql = (
            f"({text} LIKE '____-__-__%%' AND translate(left({text}, 10), '0123456789', '') = '--'"
            f" AND (length({text}) = 10 OR substr({text}, 11, 1) IN ('T', ' ')))"
        )
        return sql, [*params, *params, *params, *params]


def meta_number(key: str):
    text = MetaText(key)
    return Case(When(Looks(text, "number"), then=Cast(text, FloatField())))


def date_compare(key: str, *tests: tuple[str, str]) -> Q:
    """The custom field's date (its first 10 characters) compared with each (op, day).

    The whole text is compared, byte by byte, which gives the same answer for a text shaped
    like a date: after its 10 characters comes nothing, "T" or " ", all below "~". So no
    substring is made per row, and the shape test is a condition of its own, which the
    database can run after the cheaper comparisons.
    """
    text = Bytewise(MetaText(key))
    q = Q(Looks(MetaText(key), "date"))
    for op, day in tests:
        bound = day + "~" if op in ("gt", "lte") else day
        q &= compare({"gt": "gte", "lte": "lt"}.get(op, op), text, bound)
    return q


class Bytewise(Func):
    """Compared byte by byte: SQLite does so already; PostgreSQL's locale order (strcoll) is
    about twice as slow per row and, for other texts than ISO dates, a different order."""

    template = "%(expressions)s"
    output_field = TextField()

    def as_postgresql(self, compiler, connection):
        return self.as_sql(compiler, connection, template='(%(expressions)s COLLATE "C")')


def compare(op: str, lhs, rhs) -> Q:
    lookup = {
        "gt": GreaterThan,
        "gte": GreaterThanOrEqual,
        "lt": LessThan,
        "lte": LessThanOrEqual,
        "eq": Exact,
    }[op]
    return Q(lookup(lhs, rhs))


def day_range(scope: Scope, days: int) -> tuple[date, date]:
    """The dates "within `days` days": the last ones, or the next ones when negative."""
    today = scope.today
    return (today - timedelta(days=days), today) if days > 0 else (today, today - timedelta(days))
