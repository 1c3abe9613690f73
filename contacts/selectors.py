"""Reads of contacts: which contacts a list, a batch operation, an export or the API works on
(`contact_list`, `contact_count`), and the member counts of the list's side panel (C4)."""

from collections.abc import Iterable, Mapping

from django.core.cache import cache
from django.db.models import Count, QuerySet

from accounts.models import Workspace

from .filters import ContactFilter
from .models import Contact, GroupMembership


def contact_filter(*, workspace: Workspace, filters: Mapping | None) -> ContactFilter:
    """The list's filters (the query string's names) for the workspace, as a FilterSet."""
    return ContactFilter(filters if filters is not None else {}, workspace=workspace)


def contact_list(
    *,
    workspace: Workspace,
    filters: Mapping | ContactFilter | None = None,
    ids: Iterable[int] | None = None,
) -> QuerySet:
    """The workspace's contacts matching `filters` (the list's query string names: search,
    group, status, tag, ...; or the ContactFilter the list page made of them) and, given `ids`,
    among those ids; in list order. A filter value that cannot be read (a bad date, another
    workspace's group) matches nothing, never everything: this is what a bulk delete acts on.
    """
    if not isinstance(filters, ContactFilter):
        filters = contact_filter(workspace=workspace, filters=filters)
    queryset = filters.qs
    if ids is not None:
        queryset = queryset.filter(pk__in=list(ids))
    return queryset


def contact_count(
    *,
    workspace: Workspace,
    filters: Mapping | None = None,
    ids: Iterable[int] | None = None,
    cap: int | None = None,
) -> int:
    """How many contacts `contact_list` gives for the same arguments. With `cap`, counting
    stops past it (at most cap + 1 is returned), so a count stays fast on millions of rows.
    Only a group: its memberships are counted (an index-only scan) rather than joined."""
    chosen = contact_filter(workspace=workspace, filters=filters)
    queryset = contact_list(workspace=workspace, filters=chosen, ids=ids)
    if ids is None and chosen.form.is_valid():
        given = {k for k, v in chosen.form.cleaned_data.items() if v not in (None, "")}
        if given == {"group"}:
            queryset = GroupMembership.objects.filter(group=chosen.form.cleaned_data["group"])
    queryset = queryset.order_by().values("pk")
    if cap is not None:
        queryset = queryset[: cap + 1]
    return queryset.count()


# Counting a million memberships takes a few hundred ms: big workspaces keep the counts for
# a short while. Every write through contacts.services drops them at once.
BIG_WORKSPACE = 20_000
COUNTS_SECONDS = 30


def _key(workspace_id: int) -> str:
    return f"contacts:group-counts:{workspace_id}"


def group_counts(*, workspace: Workspace) -> tuple[dict[int, int], int]:
    """({group id: members}, contacts in the workspace)."""
    cached = cache.get(_key(workspace.pk))
    if cached is not None:
        return cached
    sizes = dict(
        GroupMembership.objects.filter(group__workspace=workspace)
        .values_list("group_id")
        .annotate(n=Count("*"))
        .order_by()
    )
    total = Contact.objects.for_workspace(workspace).count()
    if total >= BIG_WORKSPACE:
        cache.set(_key(workspace.pk), (sizes, total), COUNTS_SECONDS)
    return sizes, total


def group_counts_changed(workspace_id: int) -> None:
    cache.delete(_key(workspace_id))
