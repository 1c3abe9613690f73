"""One contact: detail, create, edit, delete, opt out and back in (C6, C10, C11)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.decorators import workspace_required
from core.money import money

from .. import dedup, services
from .. import groups as group_writes
from ..forms import ContactForm, OptOutForm
from ..models import Contact, ContactEvent
from .common import add_errors

EVENTS_SHOWN = 200


def _contact_or_404(request: HttpRequest, contact_id: int) -> Contact:
    return get_object_or_404(Contact.objects.for_workspace(request.workspace), pk=contact_id)


@workspace_required
@require_http_methods(["GET"])
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(request, contact_id)
    events = list(
        ContactEvent.objects.for_workspace(request.workspace)
        .filter(contact=contact)
        .select_related("actor")[:EVENTS_SHOWN]
    )
    reasons = dict(Contact.OptOutReason.choices)
    for event in events:
        event.reason_label = reasons.get(event.reason, event.reason)
    context = {
        "contact": contact,
        "memberships": contact.memberships.select_related("group").order_by("group__name"),
        "tags": contact.tags.all(),
        "events": events,
        "metadata": sorted(contact.metadata.items()),
        "revenue": money(contact.revenue_total, request.workspace.currency),
        "can_delete": request.membership.can_delete_contacts,
    }
    return render(request, "contacts/contact_detail.html", context)


def _save(request: HttpRequest, form: ContactForm, contact: Contact | None):
    """Validate through the services; returns the saved contact, or None with form errors."""
    metadata = form.read_metadata(request.POST)
    if not form.is_valid():
        return None
    data = form.service_data(metadata)
    workspace = request.workspace
    try:
        cleaned = services.clean_contact_data(workspace=workspace, data=data)
    except ValidationError as exc:
        add_errors(form, exc)
        return None
    # The duplicate rule of contacts/dedup.py; on purpose the form refuses a duplicate instead
    # of skipping or updating it, and checks only a changed phone or email: editing a contact
    # an import deliberately duplicated ("create" strategy) must still work.
    phone, email = cleaned.get("phone", ""), cleaned.get("email", "")
    if contact is not None:
        phone = "" if phone == contact.phone else phone
        email = "" if email == contact.email else email
    duplicate = dedup.contact_duplicate(
        workspace=workspace, phone=phone, email=email, exclude_id=contact.pk if contact else None
    )
    if duplicate is not None:
        form.duplicate = duplicate
        form.add_error(None, f"Another contact already has this phone or email: {duplicate}.")
        return None
    groups = list(form.cleaned_data["groups"])
    with transaction.atomic():
        if contact is None:
            return services.contact_create(
                workspace=workspace, data=data, groups=groups, actor=request.user
            )
        services.contact_update(contact=contact, data=data, actor=request.user)
        current = set(contact.memberships.values_list("group_id", flat=True))
        wanted = {g.pk: g for g in groups}
        for pk in set(wanted) - current:
            group_writes.group_add_contacts(group=wanted[pk], contact_ids=[contact.pk])
        for membership in contact.memberships.exclude(group_id__in=wanted).select_related("group"):
            group_writes.group_remove_contacts(group=membership.group, contact_ids=[contact.pk])
        return contact


@workspace_required
@require_http_methods(["GET", "POST"])
def contact_create(request: HttpRequest) -> HttpResponse:
    initial = {}
    group_id = request.GET.get("group", "")
    if group_id.isdigit():
        initial["groups"] = request.workspace.contact_groups.filter(pk=int(group_id))
    form = ContactForm(request.POST or None, initial=initial, workspace=request.workspace)
    if request.method == "POST":
        contact = _save(request, form, None)
        if contact is not None:
            messages.success(request, f"Contact “{contact}” added.")
            return redirect("contacts:contact-detail", contact.pk)
    context = {"form": form, "contact": None, "metadata_rows": form.rows_for_display()}
    return render(request, "contacts/contact_form.html", context)


@workspace_required
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(request, contact_id)
    form = ContactForm(
        request.POST or None, initial=ContactForm.initial_for(contact), workspace=request.workspace
    )
    if request.method == "POST":
        saved = _save(request, form, contact)
        if saved is not None:
            messages.success(request, f"Contact “{saved}” saved.")
            return redirect("contacts:contact-detail", saved.pk)
    context = {"form": form, "contact": contact, "metadata_rows": form.rows_for_display(contact)}
    return render(request, "contacts/contact_form.html", context)


@workspace_required
@require_http_methods(["POST"])
def contact_delete(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(request, contact_id)
    if not request.membership.can_delete_contacts:
        raise PermissionDenied("Only owners and admins can delete contacts in this workspace.")
    name = str(contact)
    services.contacts_delete(workspace=request.workspace, contact_ids=[contact.pk])
    messages.success(request, f"Contact “{name}” deleted.")
    return redirect("contacts:contact-list")


@workspace_required
@require_http_methods(["GET", "POST"])
def contact_opt_out(request: HttpRequest, contact_id: int) -> HttpResponse:
    """A manual opt-out is confirmed on its own page first, and logged (C10)."""
    contact = _contact_or_404(request, contact_id)
    if contact.is_opted_out:
        messages.info(request, f"{contact} is already opted out.")
        return redirect("contacts:contact-detail", contact.pk)
    form = OptOutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.contact_opt_out(
            contact=contact,
            reason=form.cleaned_data["reason"],
            actor=request.user,
            detail=form.cleaned_data["note"],
        )
        messages.success(request, f"{contact} is opted out and will receive no campaign messages.")
        return redirect("contacts:contact-detail", contact.pk)
    return render(request, "contacts/contact_opt_out.html", {"contact": contact, "form": form})


@workspace_required
@require_http_methods(["POST"])
def contact_opt_in(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(request, contact_id)
    if services.contact_opt_in(contact=contact, actor=request.user, detail="dashboard"):
        messages.success(request, f"{contact} is active again.")
    return redirect("contacts:contact-detail", contact.pk)
