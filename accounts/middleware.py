from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from .models import Membership

SESSION_KEY = "workspace_id"


class CurrentWorkspaceMiddleware:
    """Sets request.workspace and request.membership for a logged-in user.

    The workspace comes from the session (set by the switcher) and must be one the user
    belongs to; otherwise the user's first workspace. Views scope every query by it (W2).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.workspace = None
        request.membership = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            memberships = Membership.objects.filter(user=user).select_related("workspace")
            wanted = request.session.get(SESSION_KEY)
            membership = None
            if wanted is not None:
                membership = memberships.filter(workspace_id=wanted).first()
            if membership is None:
                membership = memberships.order_by("workspace__name").first()
            if membership is not None:
                request.membership = membership
                request.workspace = membership.workspace
        if request.workspace is None:
            return self.get_response(request)
        # Every time on a page is shown in the workspace's zone (templates name the zone).
        timezone.activate(workspace_zone(request.workspace))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def workspace_zone(workspace) -> ZoneInfo:
    try:
        return ZoneInfo(workspace.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
