"""Email unsubscribe (M6): a confirm page and the RFC 8058 one-click POST.

The POST is CSRF-exempt, as RFC 8058 requires (mail providers post without a session): the
signed token in the URL is the only authority, and it cannot be forged or edited.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

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
