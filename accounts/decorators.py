from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render


def workspace_required(view):
    """Login required, and a current workspace; the view reads it from request.workspace."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.workspace is None:
            return render(request, "accounts/no_workspace.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def manager_required(view):
    """Owner or admin of the current workspace."""

    @workspace_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.membership.is_manager:
            raise PermissionDenied("Only owners and admins can do this.")
        return view(request, *args, **kwargs)

    return wrapper
