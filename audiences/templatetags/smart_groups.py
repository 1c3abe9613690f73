"""The smart groups part of the contacts page's group panel (G1): each opens the contacts list
filtered by it. A tag, so the contacts views need not import the app above them."""

from django import template

from audiences.models import SmartGroup
from audiences.selectors import smart_group_members

register = template.Library()
PANEL_LIMIT = 20  # each count is a query of its own: the panel lists the first ones


@register.inclusion_tag("audiences/_group_panel.html", takes_context=True)
def smart_group_panel(context) -> dict:
    request = context["request"]
    smart_groups = list(SmartGroup.objects.for_workspace(request.workspace)[: PANEL_LIMIT + 1])
    more, smart_groups = len(smart_groups) > PANEL_LIMIT, smart_groups[:PANEL_LIMIT]
    with_counts = bool(context.get("with_counts"))
    if with_counts:  # the panel's second, lazy load (see contacts.views.groups.group_panel)
        for smart_group in smart_groups:
            smart_group.size = smart_group_members(smart_group=smart_group).order_by().count()
    current = request.GET.get("smart_group", "")
    return {
        "smart_groups": smart_groups,
        "more": more,
        "with_counts": with_counts,
        "current": int(current) if current.isdigit() else None,
    }
