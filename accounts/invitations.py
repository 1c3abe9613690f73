"""Inviting people into a workspace by email (issue 14 §5): create, send, re-send, revoke,
and accept (as the user who is logged in, or as a new user made from the invitation).

The link is `/workspace/invitations/<token>/`; the token is a timestamp-signed
"<invitation id>.<secret>", and only a SHA-256 of the secret is stored. It works once, until
it expires (HERALD_INVITATION_DAYS), and not after a re-send (a new secret) or a revoke.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from .models import Invitation, Membership, Workspace

SALT = "accounts.invitation"


class InvitationUnusable(Exception):
    """The link cannot be used; `reason` is one of invalid, expired, accepted, revoked."""

    def __init__(self, reason: str, invitation: Invitation | None = None):
        super().__init__(reason)
        self.reason = reason
        self.invitation = invitation


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _days() -> int:
    return settings.HERALD_INVITATION_DAYS


def _new_secret(invitation: Invitation) -> str:
    """A fresh secret for the invitation (not saved here); returns the link's token."""
    secret = secrets.token_urlsafe(24)
    invitation.token_hash = _hash(secret)
    invitation.sent_at = timezone.now()
    invitation.expires_at = invitation.sent_at + timedelta(days=_days())
    return signing.TimestampSigner(salt=SALT).sign(f"{invitation.pk}.{secret}")


def _may_invite(by: Membership, role: str) -> None:
    if not by.is_manager:
        raise PermissionDenied("Only owners and admins can invite people.")
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose a role."})
    if role == Membership.Role.OWNER and by.role != Membership.Role.OWNER:
        raise ValidationError({"role": "Only an owner can invite an owner."})


def normalized_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid email address."}) from None
    return email


@transaction.atomic
def invitation_create(
    *, workspace: Workspace, email: str, role: str, by: Membership
) -> tuple[Invitation, str]:
    """A new invitation and its link's token (send it with `invitation_send`).

    Refused: an address that is already a member's, or already has an open invitation
    (re-send that one instead).
    """
    _may_invite(by, role)
    email = normalized_email(email)
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of this workspace."})
    if Invitation.objects.for_workspace(workspace).open().filter(email=email).exists():
        raise ValidationError(
            {"email": f"{email} is already invited: re-send that invitation instead."}
        )
    invitation = Invitation(
        workspace=workspace, email=email, role=role, invited_by=by.user, token_hash="-"
    )
    invitation.expires_at = timezone.now()
    try:
        with transaction.atomic():
            invitation.save()  # the id goes into the token
    except IntegrityError:  # the same address invited at the same moment
        raise ValidationError({"email": f"{email} is already invited."}) from None
    token = _new_secret(invitation)
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
    return invitation, token


def _open_for(workspace: Workspace, invitation_id: int, by: Membership) -> Invitation:
    if not by.is_manager:
        raise PermissionDenied("Only owners and admins can manage invitations.")
    invitation = (
        Invitation.objects.for_workspace(workspace).select_for_update().get(pk=invitation_id)
    )
    if invitation.accepted_at or invitation.revoked_at:
        raise ValidationError("This invitation was already accepted or revoked.")
    return invitation


@transaction.atomic
def invitation_renew(
    *, workspace: Workspace, invitation_id: int, by: Membership
) -> tuple[Invitation, str]:
    """A new link for an open invitation (the old one stops working), valid from now."""
    invitation = _open_for(workspace, invitation_id, by)
    if invitation.role == Membership.Role.OWNER and by.role != Membership.Role.OWNER:
        raise PermissionDenied("Only an owner can re-send an owner's invitation.")
    token = _new_secret(invitation)
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
    return invitation, token


@transaction.atomic
def invitation_revoke(*, workspace: Workspace, invitation_id: int, by: Membership) -> Invitation:
    invitation = _open_for(workspace, invitation_id, by)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    return invitation


def invitation_link(token: str) -> str:
    """Absolute, under PUBLIC_BASE_URL: it is opened from a mail client."""
    return settings.PUBLIC_BASE_URL + reverse("accounts:invitation-accept", args=[token])


def invitation_send(*, invitation: Invitation, token: str) -> None:
    """Email the link through Django's email backend (EMAIL_BACKEND: the console under
    `make run`, SMTP in production). Raises what the backend raises (OSError, SMTPException):
    the caller says the email could not be sent; the invitation stays and can be re-sent."""
    inviter = invitation.invited_by.get_username() if invitation.invited_by else "Someone"
    workspace = invitation.workspace.name
    send_mail(
        subject=f"{inviter} invited you to {workspace} on Herald",
        message=(
            f"{inviter} invited you to join the workspace “{workspace}” on Herald as "
            f"{invitation.get_role_display().lower()}.\n\n"
            f"Accept the invitation: {invitation_link(token)}\n\n"
            f"The link works once and expires in {_days()} days. If you did not expect this "
            "invitation, ignore this email."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[invitation.email],
        fail_silently=False,
    )


def invitation_for_token(token: str, *, lock: bool = False) -> Invitation:
    """The invitation a link names, if it can still be accepted; else InvitationUnusable."""
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(token, max_age=timedelta(days=_days()))
    except signing.SignatureExpired:
        raise InvitationUnusable("expired") from None
    except signing.BadSignature:
        raise InvitationUnusable("invalid") from None
    pk, _, secret = value.partition(".")
    queryset = Invitation.objects.select_related("workspace", "invited_by")
    invitation = (
        (queryset.select_for_update(of=("self",)) if lock else queryset).filter(pk=pk).first()
    )
    if invitation is None or not constant_time_compare(invitation.token_hash, _hash(secret)):
        raise InvitationUnusable("invalid")  # deleted, or an older link of a re-sent one
    if invitation.revoked_at:
        raise InvitationUnusable("revoked", invitation)
    if invitation.accepted_at:
        raise InvitationUnusable("accepted", invitation)
    if invitation.is_expired:
        raise InvitationUnusable("expired", invitation)
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user) -> tuple[Membership, bool]:
    """`user` joins the invitation's workspace with its role; the link is used up.

    Returns the membership and whether it is new (someone already a member keeps their
    role: an invitation never demotes or promotes anyone).
    """
    invitation = invitation_for_token(token, lock=True)
    membership, created = Membership.objects.get_or_create(
        user=user, workspace=invitation.workspace, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership, created


def invitation_user_exists(invitation: Invitation) -> bool:
    """Whether the address already has a login (then its owner logs in to accept)."""
    return get_user_model().objects.filter(email__iexact=invitation.email).exists()


@transaction.atomic
def invitation_accept_new_user(*, token: str, username: str, password: str):
    """A new user (the invitation's address, this username and password) who joins the
    workspace. Everything is checked first: a refusal writes nothing."""
    invitation = invitation_for_token(token, lock=True)
    if invitation_user_exists(invitation):
        raise ValidationError("This address already has a login: log in to accept.")
    User = get_user_model()
    username = (username or "").strip()
    user = User(username=username, email=invitation.email)
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        raise ValidationError(
            {"username": exc.message_dict.get("username", ["Choose another username."])}
        ) from None
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user.set_password(password)
    user.save()
    membership, _ = invitation_accept(token=token, user=user)
    return user, membership
