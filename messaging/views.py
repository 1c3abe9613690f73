"""Email unsubscribe (M6): a confirm page and the RFC 8058 one-click POST.

The POST is CSRF-exempt, as RFC 8058 requires (mail providers post without a session): the
signed token in the URL is the only authority, and it cannot be forged or edited.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required
from contacts.models import Contact
from core.htmx import render_htmx

from .templatetags.messaging_activity import activity_context, page_number
from .unsubscribe import contact_unsubscribe, unsubscribe_contact


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    contact = unsubscribe_contact(token)
    if contact is None:
        return render(request, "messaging/unsubscribe_invalid.html", status=400)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        contact_unsubscribe(
            contact=contact, detail="One-click unsubscribe" if one_click else "Unsubscribe link"
        )
        if one_click:
            return HttpResponse("Unsubscribed.", content_type="text/plain")
        return render(request, "messaging/unsubscribe_done.html", {"contact": contact})
    return render(request, "messaging/unsubscribe_confirm.html", {"contact": contact})


@workspace_required
@require_http_methods(["GET"])
def contact_activity(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The Activity panel alone (htmx paging); a plain request goes to the contact page."""
    contact = get_object_or_404(Contact.objects.for_workspace(request.workspace), pk=contact_id)
    page = page_number(request.GET.get("page"))
    if not request.htmx:
        url = reverse("contacts:contact-detail", args=[contact.pk])
        return redirect(f"{url}?activity_page={page}#activity")
    return render_htmx(
        request,
        "messaging/_contact_activity.html",
        activity_context(request, contact, page),
        fragments={"contact-activity": "activity-panel"},
    )
