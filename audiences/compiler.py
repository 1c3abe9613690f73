"""A definition compiled to one WHERE over the workspace's contacts (G3).

Columns are tested in place, custom fields through the database's JSON operators, tags,
groups and engagement through EXISTS subqueries: PostgreSQL turns the top-level ones into
semi- and anti-joins, and nothing is evaluated contact by contact in Python.
"""

from datetime import datetime
from functools import reduce
from operator import and_, or_
from zoneinfo import ZoneInfo

from django.db.models import BooleanField, Exists, OuterRef, Q, Value
from django.db.models.expressions import Case, When
from django.utils import timezone

from accounts.models import Workspace
from contacts.models import GroupMembership

from .definition import Condition, Definition
from .sql import Scope


def scope_for(workspace: Workspace, now: datetime | None = None) -> Scope:
    return Scope(
        workspace_id=workspace.pk, now=now or timezone.now(), zone=ZoneInfo(workspace.timezone)
    )


def condition_q(condition: Condition, scope: Scope) -> Q:
    positive = condition.positive_op
    q = condition.kind.match(positive, condition.cleaned, scope)
    if positive == condition.op:
        return q
    if condition.kind.nullable:
        # NOT of a test on a missing custom field would be NULL (no match): "is not pro"
        # must match a contact without the field, so NULL counts as false before negating.
        return Q(Case(When(q, then=Value(False)), default=Value(True), output_field=BooleanField()))
    return ~q


def definition_q(definition: Definition, scope: Scope) -> Q:
    """The contacts the definition matches; no conditions means every contact."""
    parts = [condition_q(c, scope) for c in definition.conditions]
    q = reduce(and_ if definition.match == "all" else or_, parts) if parts else Q()
    if definition.exclude_group_ids:
        excluded = GroupMembership.objects.filter(
            contact_id=OuterRef("pk"), group_id__in=definition.exclude_group_ids
        )
        q &= ~Q(Exists(excluded))
    return q
