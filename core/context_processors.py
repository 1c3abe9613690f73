from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from .heartbeat import background_alert, background_status


def background(request):
    """`background_alert` for every dashboard page: read only if the page shows it."""
    user = getattr(request, "user", None)
    if not settings.HERALD_BACKGROUND_CHECK or user is None or not user.is_authenticated:
        return {}
    workspace = getattr(request, "workspace", None)
    zone = ZoneInfo(workspace.timezone) if workspace is not None else ZoneInfo("UTC")
    return {
        "background_alert": SimpleLazyObject(lambda: background_alert(background_status(), zone))
    }
