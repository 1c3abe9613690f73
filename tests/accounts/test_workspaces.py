import io
import re

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from accounts.models import ApiKey, Membership, Workspace
from accounts.services import api_key_authenticate, api_key_create, api_key_revoke
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_dashboard_requires_login(client):
    response = client.get(reverse("contacts:contact-list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_login_page_logs_a_user_in(client, user):
    response = client.post(
        reverse("login"), {"username": "owner", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert client.get(reverse("contacts:contact-list")).status_code == 200


def test_middleware_uses_the_users_workspace(client_logged_in, workspace):
    response = client_logged_in.get(reverse("accounts:workspace-settings"))
    assert response.wsgi_request.workspace == workspace
    assert response.wsgi_request.membership.role == Membership.Role.OWNER


def test_user_without_workspace_sees_how_to_get_one(client):
    client.force_login(UserFactory(username="loner"))
    response = client.get(reverse("contacts:contact-list"))
    assert response.status_code == 403
    assert b"not in a workspace" in response.content


def test_switch_changes_the_current_workspace(client_logged_in, user, other_workspace):
    MembershipFactory(user=user, workspace=other_workspace, role=Membership.Role.MEMBER)
    response = client_logged_in.post(
        reverse("accounts:workspace-switch"),
        {"workspace": other_workspace.pk, "next": "/workspace/settings/"},
    )
    assert response.status_code == 302 and response.url == "/workspace/settings/"
    response = client_logged_in.get(reverse("accounts:workspace-settings"))
    assert response.wsgi_request.workspace == other_workspace


def test_switch_to_a_workspace_the_user_is_not_in_is_404(
    client_logged_in, workspace, other_workspace
):
    response = client_logged_in.post(
        reverse("accounts:workspace-switch"), {"workspace": other_workspace.pk}
    )
    assert response.status_code == 404
    response = client_logged_in.get(reverse("accounts:workspace-settings"))
    assert response.wsgi_request.workspace == workspace


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "/\\evil.example"])
def test_switch_never_redirects_off_site(client_logged_in, workspace, target):
    response = client_logged_in.post(
        reverse("accounts:workspace-switch"), {"workspace": workspace.pk, "next": target}
    )
    assert response.url == reverse("contacts:contact-list")


def test_switch_requires_csrf(user, workspace):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(reverse("accounts:workspace-switch"), {"workspace": workspace.pk})
    assert response.status_code == 403


def test_api_key_is_stored_hashed_and_authenticates(workspace):
    key, raw = api_key_create(workspace=workspace, name="CRM")
    assert raw.startswith("hk_")
    assert raw not in (key.key_hash, key.prefix) and key.key_hash == ApiKey.hash(raw)
    assert api_key_authenticate(raw) == key
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_revoked_or_wrong_key_does_not_authenticate(workspace):
    key, raw = api_key_create(workspace=workspace, name="CRM")
    assert api_key_authenticate(raw + "x") is None
    assert api_key_authenticate("") is None
    api_key_revoke(workspace=workspace, key_id=key.pk)
    assert api_key_authenticate(raw) is None


def test_api_key_created_in_dashboard_is_shown_once(client_logged_in, workspace):
    response = client_logged_in.post(reverse("accounts:api-key-create"), {"name": "Zapier"})
    assert response.status_code == 201
    key = ApiKey.objects.get(workspace=workspace, name="Zapier")
    page = response.content.decode()
    secret = re.search(r'id="new-api-key">([^<]+)<', page).group(1)
    assert secret.startswith(key.prefix) and ApiKey.hash(secret) == key.key_hash
    # The secret is in no session (nor anywhere but that response) and never shown again.
    for session in Session.objects.all():
        assert secret not in str(session.get_decoded())
    assert secret not in response.cookies.output()
    second = client_logged_in.get(reverse("accounts:workspace-settings")).content.decode()
    assert 'id="new-api-key"' not in second and secret not in second
    assert "no-store" in response["Cache-Control"]


def test_api_key_without_name_is_refused(client_logged_in, workspace):
    response = client_logged_in.post(reverse("accounts:api-key-create"), {"name": "  "})
    assert response.status_code == 400 and b"Give the key a name." in response.content
    assert not ApiKey.objects.exists()


def test_api_keys_show_who_created_them(client_logged_in, workspace, user):
    api_key_create(workspace=workspace, name="Zapier", created_by=user)
    api_key_create(workspace=workspace, name="From the command line")
    page = client_logged_in.get(reverse("accounts:workspace-settings")).content.decode()
    row = re.search(r"<tr>\s*<td>Zapier</td>.*?</tr>", page, re.S).group(0)
    assert "<td>owner</td>" in row
    row = re.search(r"<tr>\s*<td>From the command line</td>.*?</tr>", page, re.S).group(0)
    assert "command line</span>" in row


def test_member_cannot_create_or_revoke_keys_or_change_settings(member_client, workspace):
    key, _ = api_key_create(workspace=workspace, name="CRM")
    assert member_client.post(reverse("accounts:api-key-create"), {"name": "x"}).status_code == 403
    assert member_client.post(reverse("accounts:api-key-revoke", args=[key.pk])).status_code == 403
    member_client.post(reverse("accounts:workspace-settings"), {"name": "Hacked"})
    workspace.refresh_from_db()
    assert workspace.name == "Acme"
    key.refresh_from_db()
    assert key.revoked_at is None


def test_revoking_another_workspaces_key_is_404(client_logged_in, other_workspace):
    key, _ = api_key_create(workspace=other_workspace, name="theirs")
    response = client_logged_in.post(reverse("accounts:api-key-revoke", args=[key.pk]))
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_settings_form_rejects_inverted_quiet_hours(client_logged_in, workspace):
    response = client_logged_in.post(
        reverse("accounts:workspace-settings"),
        {
            "name": "Acme",
            "default_region": "US",
            "timezone": "America/New_York",
            "quiet_start_hour": 21,
            "quiet_end_hour": 8,
        },
    )
    assert response.status_code == 200
    assert "end must be after the start" in response.content.decode()
    workspace.refresh_from_db()
    assert workspace.quiet_start_hour == 8


def test_create_workspace_command_with_owner():
    UserFactory(username="alice")
    call_command(
        "create_workspace",
        "sales",
        "--name",
        "Sales team",
        "--owner",
        "alice",
        stdout=io.StringIO(),
    )
    ws = Workspace.objects.get(slug="sales")
    assert ws.name == "Sales team"
    assert ws.memberships.get().user.username == "alice"


def test_create_workspace_command_refuses_duplicates_and_unknown_owner(workspace):
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_workspace", "acme", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No user"):
        call_command("create_workspace", "new", "--owner", "ghost", stdout=io.StringIO())


def test_create_api_key_command_prints_a_working_key_last(workspace):
    out = io.StringIO()
    call_command("create_api_key", "--workspace", "acme", "--name", "ci", stdout=out)
    raw = out.getvalue().strip().splitlines()[-1].split()[-1]
    assert api_key_authenticate(raw).workspace == workspace
