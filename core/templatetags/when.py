"""Times as pages show them: in the active zone (the workspace's, set by its middleware),
with the zone named, so "09:00" never leaves a reader guessing which 09:00."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()


@register.filter
def when(value: datetime | None) -> str:
    """ "2026-03-02 09:00 EST" """
    if not value:
        return ""
    return date_format(timezone.localtime(value), "Y-m-d H:i T")


@register.filter
def clock(value: datetime | None) -> str:
    """ "09:00 EST": for times of today, a chart's axis, a banner."""
    if not value:
        return ""
    return date_format(timezone.localtime(value), "H:i T")
