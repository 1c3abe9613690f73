"""The members page: invite by email, re-send and revoke invitations, change roles; and the
page an invitation's link opens (issue 14 §5). Removing a member is in views.py."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from . import invitations
from .decorators import manager_required, workspace_required
from .forms import InvitationSignupForm, MemberInviteForm, role_choices
from .middleware import SESSION_KEY
from .models import Invitation
from .services import membership_set_role


def _members_page(request: HttpRequest, *, invite_form=None, status=200) -> HttpResponse:
    workspace, me = request.workspace, request.membership
    return render(
        request,
        "accounts/members.html",
        {
            "members": workspace.memberships.select_related("user").order_by("user__username"),
            "invitations": Invitation.objects.for_workspace(workspace)
            .open()
            .select_related("invited_by"),
            "invite_form": invite_form or MemberInviteForm(by=me),
            "roles": role_choices(me),
            "role_values": [value for value, _ in role_choices(me)],
            "invitation_days": settings.HERALD_INVITATION_DAYS,
        },
        status=status,
    )


@workspace_required
@require_http_methods(["GET"])
def member_list(request: HttpRequest) -> HttpResponse:
    return _members_page(request)


def _send(request: HttpRequest, invitation: Invitation, token: str, done: str) -> None:
    try:
        invitations.invitation_send(invitation=invitation, token=token)
    except Exception as exc:  # SMTP errors, refused connections, timeouts: all say the same
        messages.error(
            request,
            f"The invitation to {invitation.email} is saved, but the email could not be sent "
            f"({type(exc).__name__}). Check the email settings, then re-send it.",
        )
    else:
        messages.success(request, done)


@manager_required
@require_POST
def member_invite(request: HttpRequest) -> HttpResponse:
    form = MemberInviteForm(request.POST, by=request.membership)
    if form.is_valid():
        try:
            invitation, token = invitations.invitation_create(
                workspace=request.workspace,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                by=request.membership,
            )
        except ValidationError as exc:
            add_form_errors(form, exc)
        else:
            _send(request, invitation, token, f"Invitation sent to {invitation.email}.")
            return redirect("accounts:member-list")
    return _members_page(request, invite_form=form, status=400)


def add_form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@manager_required
@require_POST
def invitation_resend(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(
        Invitation.objects.for_workspace(request.workspace), pk=invitation_id
    )
    try:
        invitation, token = invitations.invitation_renew(
            workspace=request.workspace, invitation_id=invitation.pk, by=request.membership
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        _send(
            request,
            invitation,
            token,
            f"Invitation sent again to {invitation.email}; the earlier link no longer works.",
        )
    return redirect("accounts:member-list")


@manager_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_object_or_404(
        Invitation.objects.for_workspace(request.workspace), pk=invitation_id
    )
    try:
        invitations.invitation_revoke(
            workspace=request.workspace, invitation_id=invitation.pk, by=request.membership
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"Invitation to {invitation.email} revoked: its link no longer works."
        )
    return redirect("accounts:member-list")


@manager_required
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = get_object_or_404(
        request.workspace.memberships.select_related("user"), pk=membership_id
    )
    try:
        changed = membership_set_role(
            workspace=request.workspace,
            membership_id=target.pk,
            role=request.POST.get("role", ""),
            by=request.membership,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        name = target.user.get_username()
        messages.success(request, f"{name} is now {changed.get_role_display().lower()}.")
    return redirect("accounts:member-list")


UNUSABLE = {
    "invalid": (
        404,
        "This invitation link is not valid",
        "Check that the whole link was copied, or ask for a new invitation (a re-sent "
        "invitation replaces the earlier link).",
    ),
    "expired": (
        410,
        "This invitation has expired",
        "Ask the person who invited you to send it again.",
    ),
    "accepted": (
        410,
        "This invitation was already used",
        "Log in to reach the workspace, or ask for a new invitation.",
    ),
    "revoked": (
        410,
        "This invitation was withdrawn",
        "Ask the workspace's owners or admins if you should have access.",
    ),
}


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link of an invitation email: join as the user logged in, log in first when the
    address already has a login, or create a login here."""
    try:
        invitation = invitations.invitation_for_token(token)
    except invitations.InvitationUnusable as exc:
        status, title, hint = UNUSABLE[exc.reason]
        return render(
            request,
            "accounts/invitation_unusable.html",
            {"title": title, "hint": hint},
            status=status,
        )
    signed_in = request.user.is_authenticated
    has_login = not signed_in and invitations.invitation_user_exists(invitation)
    form = InvitationSignupForm(initial={"username": invitation.email.split("@")[0]})
    if request.method == "POST" and not has_login:
        try:
            if signed_in:
                user = request.user
                _, created = invitations.invitation_accept(token=token, user=user)
            else:
                form = InvitationSignupForm(request.POST)
                if not form.is_valid():
                    raise ValidationError("")
                user, _ = invitations.invitation_accept_new_user(
                    token=token,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                )
                created = True
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        except invitations.InvitationUnusable as exc:  # used or revoked meanwhile
            status, title, hint = UNUSABLE[exc.reason]
            return render(
                request,
                "accounts/invitation_unusable.html",
                {"title": title, "hint": hint},
                status=status,
            )
        except ValidationError as exc:
            if exc.messages != [""]:
                add_form_errors(form, exc)
        else:
            request.session[SESSION_KEY] = invitation.workspace_id
            note = "Welcome to" if created else "You were already a member of"
            messages.success(request, f"{note} {invitation.workspace.name}.")
            return redirect("contacts:contact-list")
    return render(
        request,
        "accounts/invitation_accept.html",
        {"invitation": invitation, "form": form, "has_login": has_login, "signed_in": signed_in},
        status=400 if form.errors else 200,
    )
