"""The tracked link redirect (E2) and the workspace's attribution settings (E3).

The redirect view is the reference implementation: in production the WSGI application
answers the same requests the same way before Django (fastpath.py)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required

from .clicks import clicks_store
from .forms import AttributionSettingsForm
from .redirects import link_target, pending_click

NOT_FOUND_TEMPLATE = "engagement/link_not_found.html"
# Every click must reach Herald, none be answered by a cached 302 (the 404 is the site's usual).
NO_STORE = "private, no-store"


@require_http_methods(["GET", "HEAD"])
def link_redirect(request: HttpRequest, code: str) -> HttpResponse:
    """302 to the link's destination, its click stored; anything else under /l/ is a plain
    404 page, never a redirect."""
    target = link_target(code)
    if target is None:
        return render(request, NOT_FOUND_TEMPLATE, status=404)
    url, message_id = target
    clicks_store([pending_click(code, message_id, request.META)])
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = NO_STORE
    return response


@workspace_required
@require_http_methods(["GET", "POST"])
def attribution_settings(request: HttpRequest) -> HttpResponse:
    """Everyone in the workspace sees the windows and the currency; owners and admins change
    them."""
    form = AttributionSettingsForm(instance=request.workspace)
    status = 200
    if request.method == "POST":
        if not request.membership.is_manager:
            raise PermissionDenied("Only owners and admins can change workspace settings.")
        form = AttributionSettingsForm(request.POST, instance=request.workspace)
        if form.is_valid():
            form.save()
            messages.success(request, "Attribution settings saved.")
            return redirect("engagement:attribution-settings")
        status = 400
    return render(request, "engagement/attribution_settings.html", {"form": form}, status=status)
