"""The smart groups part of the contacts page's group panel (G1): each opens the contacts list
filtered by it. A tag, so the contacts views need not import the app above them. On the
panel's lazy load each row loads its own count after it (one htmx request each: a count can
take a second at a million contacts, and the panel should not wait for all of them)."""

from django import template

from audiences.models import SmartGroup

register = template.Library()
PANEL_LIMIT = 20  # the panel lists the first ones


@register.inclusion_tag("audiences/_group_panel.html", takes_context=True)
def smart_group_panel(context) -> dict:
    request = context["request"]
    smart_groups = list(SmartGroup.objects.for_workspace(request.workspace)[: PANEL_LIMIT + 1])
    more, smart_groups = len(smart_groups) > PANEL_LIMIT, smart_groups[:PANEL_LIMIT]
    current = request.GET.get("smart_group", "")
    return {
        "smart_groups": smart_groups,
        "more": more,
        "with_counts": bool(context.get("with_counts")),
        "current": int(current) if current.isdigit() else None,
    }
