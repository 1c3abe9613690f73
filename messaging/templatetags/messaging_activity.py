"""`{% contact_activity_panel contact %}`: the Activity tab of the contact page (C11, C12)."""

from django import template

from messaging.selectors import contact_activity, contact_metrics

register = template.Library()

PER_PAGE = 25


def activity_context(request, contact, page: int) -> dict:
    workspace = request.workspace
    return {
        "contact": contact,
        "metrics": contact_metrics(workspace=workspace, contact_id=contact.pk),
        "activity": contact_activity(
            workspace=workspace, contact_id=contact.pk, page=page, per_page=PER_PAGE
        ),
    }


def page_number(raw) -> int:
    try:
        return min(max(int(raw), 1), 100_000)
    except (TypeError, ValueError):
        return 1


@register.inclusion_tag("messaging/_contact_activity.html", takes_context=True)
def contact_activity_panel(context, contact):
    request = context["request"]
    return activity_context(request, contact, page_number(request.GET.get("activity_page")))
