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
from .unsubscribe import contact_unsubscribe, unsubscribe_contact, unsubscribe_test_workspace


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """A recipient's page: neutral (no dashboard), under the workspace's name."""
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    test_workspace = unsubscribe_test_workspace(token)
    if test_workspace is not None:  # the link of a campaign's test email
        if one_click:
            return HttpResponse("A test email: nobody was unsubscribed.", content_type="text/plain")
        context = {"brand": test_workspace.name}
        return render(request, "messaging/unsubscribe_test.html", context)
    contact = unsubscribe_contact(token)
    if contact is None:
        return render(request, "messaging/unsubscribe_invalid.html", status=400)
    context = {"contact": contact, "brand": contact.workspace.name}
    if request.method == "POST":
        contact_unsubscribe(
            contact=contact, detail="One-click unsubscribe" if one_click else "Unsubscribe link"
        )
        if one_click:
            return HttpResponse("Unsubscribed.", content_type="text/plain")
        return render(request, "messaging/unsubscribe_done.html", context)
    return render(request, "messaging/unsubscribe_confirm.html", context)


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
