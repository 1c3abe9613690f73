import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import ApiKey, Membership, Workspace


@transaction.atomic
def workspace_create(*, slug: str, name: str = "", owner=None) -> Workspace:
    if Workspace.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A workspace with slug “{slug}” already exists."})
    workspace = Workspace(slug=slug, name=name or slug.replace("-", " ").title())
    workspace.full_clean()
    workspace.save()
    if owner is not None:
        Membership.objects.create(user=owner, workspace=workspace, role=Membership.Role.OWNER)
    return workspace


def workspace_inbound_email_secret_rotate(*, workspace: Workspace) -> str:
    """A new secret for the workspace's inbound email webhook; the old one stops working at
    once (the mail provider's settings must be updated with the new one)."""
    secret = secrets.token_hex(24)
    Workspace.objects.filter(pk=workspace.pk).update(inbound_email_secret=secret)
    workspace.inbound_email_secret = secret
    return secret


def api_key_create(*, workspace: Workspace, name: str, created_by=None) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never stored and shown only once."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the key a name."})
    raw = ApiKey.generate()
    key = ApiKey.objects.create(
        workspace=workspace,
        name=name[:100],
        prefix=raw[:10],
        key_hash=ApiKey.hash(raw),
        created_by=created_by,
    )
    return key, raw


def api_key_revoke(*, workspace: Workspace, key_id: int) -> ApiKey:
    key = ApiKey.objects.for_workspace(workspace).get(pk=key_id)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


@transaction.atomic
def membership_remove(
    *, workspace: Workspace, membership_id: int, by: Membership, revoke_keys: bool
) -> tuple[Membership, int]:
    """Take a user out of the workspace; with revoke_keys, revoke the API keys they created.

    Owners and admins remove people; only an owner removes an owner, and the last owner
    stays (a workspace nobody can manage is lost). Keys belong to the workspace, not to the
    person, so they keep working unless asked: an integration may depend on them.
    Returns the removed membership and how many keys were revoked.
    """
    if not by.is_manager:
        raise PermissionDenied("Only owners and admins can remove members.")
    target = Membership.objects.select_for_update().get(workspace=workspace, pk=membership_id)
    owners = Membership.objects.filter(workspace=workspace, role=Membership.Role.OWNER)
    if target.role == Membership.Role.OWNER:
        if by.role != Membership.Role.OWNER:
            raise PermissionDenied("Only an owner can remove an owner.")
        if owners.count() <= 1:
            raise ValidationError("The workspace's last owner cannot be removed.")
    revoked = 0
    if revoke_keys:
        revoked = member_api_keys(workspace=workspace, user=target.user).update(
            revoked_at=timezone.now()
        )
    target.delete()
    return target, revoked


@transaction.atomic
def membership_set_role(
    *, workspace: Workspace, membership_id: int, role: str, by: Membership
) -> Membership:
    """Give a member another role.

    Owners and admins change roles; only an owner makes an owner or changes an owner's role,
    and the last owner stays one (as removal keeps them), so a workspace always has someone
    who can manage it.
    """
    if not by.is_manager:
        raise PermissionDenied("Only owners and admins can change roles.")
    if role not in Membership.Role.values:
        raise ValidationError("Choose a role.")
    target = Membership.objects.select_for_update().get(workspace=workspace, pk=membership_id)
    owner_involved = Membership.Role.OWNER in (target.role, role)
    if owner_involved and by.role != Membership.Role.OWNER:
        raise PermissionDenied("Only an owner can make an owner or change an owner's role.")
    if target.role == Membership.Role.OWNER and role != Membership.Role.OWNER:
        owners = Membership.objects.select_for_update().filter(
            workspace=workspace, role=Membership.Role.OWNER
        )
        if len(owners) <= 1:
            raise ValidationError(
                "The workspace's last owner cannot be demoted: make someone else an owner first."
            )
    managers = Membership.objects.filter(
        workspace=workspace, role__in=[Membership.Role.OWNER, Membership.Role.ADMIN]
    )
    if role == Membership.Role.MEMBER and not managers.exclude(pk=target.pk).exists():
        raise ValidationError("The workspace's last admin cannot be demoted.")
    target.role = role
    target.save(update_fields=["role"])
    return target


def member_api_keys(*, workspace: Workspace, user) -> "QuerySet[ApiKey]":
    """The workspace's active API keys that this user created."""
    return ApiKey.objects.for_workspace(workspace).active().filter(created_by=user)


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key for a bearer secret; its last-used time is refreshed at most once a minute."""
    if not raw_key or not raw_key.startswith(ApiKey.PREFIX):
        return None
    key = (
        ApiKey.objects.active()
        .select_related("workspace")
        .filter(key_hash=ApiKey.hash(raw_key))
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def user_workspaces(user):
    return Workspace.objects.filter(memberships__user=user).order_by("name")


def ensure_user(*, username: str, password: str | None = None, superuser: bool = False):
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username)
    if password is not None:
        user.set_password(password)
    if superuser:
        user.is_staff = user.is_superuser = True
    user.save()
    return user
