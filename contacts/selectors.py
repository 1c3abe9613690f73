"""Reads that aggregate (C4 member counts), shared by the list page and its side panel."""

from django.core.cache import cache
from django.db.models import Count

from accounts.models import Workspace

from .models import Contact, GroupMembership

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
