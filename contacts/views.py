from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.decorators import workspace_required

from .models import Contact


@workspace_required
def contact_list(request: HttpRequest) -> HttpResponse:
    contacts = Contact.objects.for_workspace(request.workspace)[:50]
    return render(request, "contacts/contact_list.html", {"contacts": contacts})
