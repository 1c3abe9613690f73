"""Inviting people by email and changing roles (issue 14 §5)."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import invitations
from accounts.models import Invitation, Membership
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

MEMBERS = reverse("accounts:member-list")
INVITE = reverse("accounts:member-invite")
User = get_user_model()


def _link(message) -> str:
    return re.search(r"http://\S+/workspace/invitations/(\S+)/", message.body).group(0)


def _path(message) -> str:
    return "/" + _link(message).split("/", 3)[3]


def _flashes(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def _invite(client, email="new.person@example.com", role="member"):
    return client.post(INVITE, {"email": email, "role": role})


@pytest.fixture
def invited(client_logged_in, workspace):
    """An admin invitation to new.person@example.com, and the path of its link."""
    response = _invite(client_logged_in, "New.Person@Example.com ", "admin")
    assert response.status_code == 302
    return Invitation.objects.get(workspace=workspace), _path(mail.outbox[-1])


def test_invite_sends_a_one_time_link_by_email(client_logged_in, workspace, invited):
    invitation, path = invited
    message = mail.outbox[0]
    assert message.to == ["new.person@example.com"]
    assert "owner invited you to Acme" in message.subject
    assert "as admin" in message.body and "expires in 7 days" in message.body
    assert invitation.email == "new.person@example.com" and invitation.role == "admin"
    secret = path.rstrip("/").rsplit("/", 1)[1].split(":")[0].split(".", 1)[1]
    assert secret not in invitation.token_hash  # only a hash is kept
    page = client_logged_in.get(MEMBERS).content.decode()
    assert "new.person@example.com" in page and "Re-send" in page


@pytest.mark.parametrize(
    "email, error",
    [
        ("", "This field is required."),
        ("not-an-email", "Enter a valid email address."),
        ("a@b", "Enter a valid email address."),
        ("x" * 250 + "@example.com", "at most 254 characters"),
    ],
)
def test_invite_refuses_a_bad_address(client_logged_in, workspace, email, error):
    response = _invite(client_logged_in, email)
    assert response.status_code == 400 and error in response.content.decode()
    assert not Invitation.objects.exists() and not mail.outbox


def test_invite_refuses_a_member_or_an_open_invitation(client_logged_in, workspace, member):
    response = _invite(client_logged_in, "MEMBER@example.com")
    assert response.status_code == 400
    assert "member@example.com is already a member" in response.content.decode()
    assert _invite(client_logged_in, "someone@example.com").status_code == 302
    response = _invite(client_logged_in, "Someone@example.com")
    assert "already invited: re-send that invitation instead" in response.content.decode()
    assert Invitation.objects.count() == 1 and len(mail.outbox) == 1


def test_only_managers_invite_and_only_owners_invite_owners(member_client, workspace):
    assert _invite(member_client).status_code == 403
    admin = UserFactory(username="admin")
    MembershipFactory(user=admin, workspace=workspace, role=Membership.Role.ADMIN)
    client = Client()
    client.force_login(admin)
    response = _invite(client, role="owner")
    assert response.status_code == 400 and not Invitation.objects.exists()
    assert _invite(client, role="admin").status_code == 302
    assert 'value="owner"' not in client.get(MEMBERS).content.decode()


def test_member_sees_members_and_invitations_without_controls(member_client, workspace, user):
    invitations.invitation_create(
        workspace=workspace,
        email="x@example.com",
        role="member",
        by=Membership.objects.get(user=user),
    )
    page = member_client.get(MEMBERS).content.decode()
    assert "x@example.com" in page and "owner" in page
    assert "Send invitation" not in page and "Re-send" not in page and "Change role" not in page


def test_accept_as_a_new_user_creates_the_login_and_the_membership(invited, workspace):
    invitation, path = invited
    client = Client()
    page = client.get(path).content.decode()
    assert "Join Acme" in page and 'value="new.person"' in page
    response = client.post(
        path,
        {
            "username": "newbie",
            "password": "a-long-pass-phrase",
            "password_again": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("contacts:contact-list")
    newbie = User.objects.get(username="newbie")
    assert newbie.email == "new.person@example.com" and newbie.check_password("a-long-pass-phrase")
    assert Membership.objects.get(user=newbie).role == "admin"
    assert client.get(reverse("contacts:contact-list")).status_code == 200  # logged in
    invitation.refresh_from_db()
    assert invitation.accepted_by == newbie and invitation.accepted_at
    # Once only.
    again = Client().get(path)
    assert again.status_code == 410 and "already used" in again.content.decode()


@pytest.mark.parametrize(
    "data, error",
    [
        ({"username": "owner", "password": "a-long-pass-phrase"}, "already exists"),
        ({"username": "", "password": "a-long-pass-phrase"}, "required"),
        ({"username": "ok", "password": "short"}, "too short"),
        ({"username": "ok", "password": "a-long-pass-phrase", "password_again": "other"}, "differ"),
        ({"username": "bad name!", "password": "a-long-pass-phrase"}, "valid username"),
    ],
)
def test_a_refused_signup_writes_nothing(invited, user, data, error):
    invitation, path = invited
    data.setdefault("password_again", data["password"])
    users = User.objects.count()
    response = Client().post(path, data)
    assert response.status_code == 400 and error in response.content.decode()
    assert User.objects.count() == users and Membership.objects.count() == 1
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


def test_an_existing_login_accepts_after_logging_in(client_logged_in, workspace):
    other = WorkspaceFactory(name="Other")
    existing = UserFactory(username="existing", email="Existing@Example.com")
    MembershipFactory(user=existing, workspace=other, role=Membership.Role.OWNER)
    _invite(client_logged_in, "existing@example.com")
    path = _path(mail.outbox[-1])
    anonymous = Client()
    page = anonymous.get(path).content.decode()
    assert "already has a Herald login" in page and "Log in to accept" in page
    anonymous.post(path, {"username": "dupe", "password": "a-long-pass-phrase"})
    assert not User.objects.filter(username="dupe").exists()
    assert not Membership.objects.filter(user=existing, workspace=workspace).exists()
    client = Client()
    client.force_login(existing)
    assert "You are logged in as existing" in client.get(path).content.decode()
    response = client.post(path)
    assert response.status_code == 302
    assert Membership.objects.get(user=existing, workspace=workspace).role == "member"
    assert client.session["workspace_id"] == workspace.pk  # opens the workspace joined
    assert "Welcome to Acme." in _flashes(response)


def test_accepting_when_already_a_member_changes_no_role(client_logged_in, workspace, member):
    invitation, token = invitations.invitation_create(
        workspace=workspace,
        email="someone.else@example.com",
        role="admin",
        by=Membership.objects.get(workspace=workspace, role="owner"),
    )
    client = Client()
    client.force_login(member)
    response = client.post(reverse("accounts:invitation-accept", args=[token]))
    assert "You were already a member of Acme." in _flashes(response)
    assert Membership.objects.get(user=member).role == "member"


def test_expired_revoked_tampered_and_replaced_links_are_refused(client_logged_in, invited):
    invitation, path = invited
    token = path.rstrip("/").rsplit("/", 1)[1]
    tampered = reverse("accounts:invitation-accept", args=[token[:-2] + "xx"])
    assert Client().get(tampered).status_code == 404
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(1))
    response = Client().get(path)
    assert response.status_code == 410 and "expired" in response.content.decode()
    # Re-sending gives a new link valid from now; the old one no longer works.
    response = client_logged_in.post(reverse("accounts:invitation-resend", args=[invitation.pk]))
    assert "the earlier link no longer works" in " ".join(_flashes(response))
    new_path = _path(mail.outbox[-1])
    assert new_path != path and Client().get(path).status_code == 404
    assert Client().get(new_path).status_code == 200
    client_logged_in.post(reverse("accounts:invitation-revoke", args=[invitation.pk]))
    response = Client().post(new_path, {"username": "x", "password": "a-long-pass-phrase"})
    assert response.status_code == 410 and "withdrawn" in response.content.decode()
    assert not User.objects.filter(username="x").exists()


def test_a_link_past_its_signed_age_is_expired(invited, settings):
    _, path = invited
    settings.HERALD_INVITATION_DAYS = 0
    assert Client().get(path).status_code == 410


def test_email_failure_keeps_the_invitation_and_says_so(client_logged_in, workspace, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no SMTP server")

    monkeypatch.setattr(invitations, "send_mail", refuse)
    response = _invite(client_logged_in, "x@example.com")
    assert "could not be sent (ConnectionRefusedError)" in " ".join(_flashes(response))
    assert Invitation.objects.filter(email="x@example.com").exists()


def test_invitations_of_another_workspace_are_404(client_logged_in, other_workspace):
    owner = MembershipFactory(workspace=other_workspace, role=Membership.Role.OWNER)
    theirs, _ = invitations.invitation_create(
        workspace=other_workspace, email="t@example.com", role="member", by=owner
    )
    for name in ("accounts:invitation-resend", "accounts:invitation-revoke"):
        assert client_logged_in.post(reverse(name, args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None and not mail.outbox
    assert "t@example.com" not in client_logged_in.get(MEMBERS).content.decode()


def test_posts_need_the_csrf_token(user, invited):
    _, path = invited
    client = Client(enforce_csrf_checks=True)
    assert client.post(path, {"username": "x", "password": "a-long-pass-phrase"}).status_code == 403
    client.force_login(user)
    assert client.post(INVITE, {"email": "y@example.com", "role": "member"}).status_code == 403
    assert not Invitation.objects.filter(email="y@example.com").exists()


# --- roles ------------------------------------------------------------------------------


def _role(client, membership, role):
    return client.post(reverse("accounts:member-role", args=[membership.pk]), {"role": role})


def test_owner_changes_roles(client_logged_in, workspace, member):
    membership = Membership.objects.get(user=member)
    response = _role(client_logged_in, membership, "admin")
    assert "member is now admin." in _flashes(response)
    membership.refresh_from_db()
    assert membership.role == "admin"
    _role(client_logged_in, membership, "owner")
    membership.refresh_from_db()
    assert membership.role == "owner"


def test_the_last_owner_and_the_last_admin_are_never_demoted(client_logged_in, workspace, user):
    owner = Membership.objects.get(user=user)
    response = _role(client_logged_in, owner, "member")
    assert "last owner cannot be demoted" in " ".join(_flashes(response))
    owner.refresh_from_db()
    assert owner.role == "owner"
    # A workspace without an owner (made in the admin) keeps its last admin.
    lone = WorkspaceFactory(name="Lone")
    admin = MembershipFactory(workspace=lone, role=Membership.Role.ADMIN)
    with pytest.raises(Exception, match="last admin"):
        from accounts.services import membership_set_role

        membership_set_role(workspace=lone, membership_id=admin.pk, role="member", by=admin)
    admin.refresh_from_db()
    assert admin.role == "admin"


def test_admins_cannot_touch_owners_and_members_change_nothing(workspace, user, member):
    admin = UserFactory(username="admin")
    MembershipFactory(user=admin, workspace=workspace, role=Membership.Role.ADMIN)
    client = Client()
    client.force_login(admin)
    owner = Membership.objects.get(user=user)
    assert _role(client, owner, "member").status_code == 403
    assert _role(client, Membership.objects.get(user=member), "owner").status_code == 403
    assert _role(client, Membership.objects.get(user=member), "admin").status_code == 302
    member_client = Client()
    member_client.force_login(member)
    assert _role(member_client, owner, "member").status_code == 403
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_role_change_refuses_a_bad_role_and_another_workspaces_member(
    client_logged_in, member, other_workspace
):
    membership = Membership.objects.get(user=member)
    response = _role(client_logged_in, membership, "emperor")
    assert "Choose a role." in _flashes(response)
    membership.refresh_from_db()
    assert membership.role == "member"
    theirs = MembershipFactory(workspace=other_workspace, role=Membership.Role.MEMBER)
    assert _role(client_logged_in, theirs, "admin").status_code == 404
    theirs.refresh_from_db()
    assert theirs.role == "member"


def test_admin_lists_invitations_read_only(invited):
    invitation, _ = invited
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("admin:accounts_invitation_changelist"), {"q": "new"})
    assert page.status_code == 200 and "new.person@example.com" in page.content.decode()
    assert client.get(reverse("admin:accounts_invitation_add")).status_code == 403
    change = client.get(reverse("admin:accounts_invitation_change", args=[invitation.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
