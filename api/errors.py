"""Exceptions the routers raise; api.py turns each into its JSON error response."""

from collections.abc import Iterable

from django.db.models import QuerySet
from django.http import Http404


class NotInWorkspace(Http404):
    """Ids in a request body that the workspace does not have: 404, naming the field."""

    def __init__(self, field: str, missing: Iterable[int]):
        self.field = field
        self.missing = sorted(missing)
        shown = ", ".join(str(pk) for pk in self.missing[:20])
        more = "…" if len(self.missing) > 20 else ""
        self.detail = f"Not found in this workspace: {shown}{more}."
        super().__init__(self.detail)


def require_ids(queryset: QuerySet, ids: Iterable[int], *, field: str) -> list[int]:
    """The ids, de-duplicated in order, if every one is in `queryset`; else NotInWorkspace."""
    wanted = list(dict.fromkeys(ids))
    found = set(queryset.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise NotInWorkspace(field, missing)
    return wanted
