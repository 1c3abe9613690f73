"""Removing a member, and the API keys they created (issue 13, item 10)."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKey, Membership
from accounts.services import api_key_authenticate, api_key_create
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def leaver(workspace):
    user = UserFactory(username="leaver")
    membership = MembershipFactory(user=user, workspace=workspace, role=Membership.Role.MEMBER)
    return membership


def remove_url(membership) -> str:
    return reverse("accounts:member-remove", args=[membership.pk])


def test_settings_list_members_with_a_remove_link(client_logged_in, leaver):
    page = client_logged_in.get(reverse("accounts:workspace-settings")).content.decode()
    assert "leaver" in page and remove_url(leaver) in page


def test_remove_page_offers_to_revoke_the_members_keys(client_logged_in, workspace, leaver):
    api_key_create(workspace=workspace, name="Leaver's CRM sync", created_by=leaver.user)
    api_key_create(workspace=workspace, name="Team key")
    page = client_logged_in.get(remove_url(leaver)).content.decode()
    assert "Leaver&#x27;s CRM sync" in page and "Team key" not in page
    assert 'name="revoke_keys" value="1" checked' in page


def test_remove_member_and_revoke_their_keys(client_logged_in, workspace, other_workspace, leaver):
    _, theirs = api_key_create(workspace=workspace, name="theirs", created_by=leaver.user)
    _, team = api_key_create(workspace=workspace, name="team")
    # A key they created in another workspace is that workspace's business.
    MembershipFactory(user=leaver.user, workspace=other_workspace)
    _, elsewhere = api_key_create(workspace=other_workspace, name="x", created_by=leaver.user)
    response = client_logged_in.post(remove_url(leaver), {"revoke_keys": "1"})
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=leaver.pk).exists()
    assert api_key_authenticate(theirs) is None
    assert api_key_authenticate(team) is not None
    assert api_key_authenticate(elsewhere) is not None
    page = client_logged_in.get(reverse("accounts:workspace-settings")).content.decode()
    assert "leaver removed from the workspace and 1 API key revoked." in page


def test_remove_member_keeping_their_keys(client_logged_in, workspace, leaver):
    _, theirs = api_key_create(workspace=workspace, name="theirs", created_by=leaver.user)
    client_logged_in.post(remove_url(leaver))
    assert not Membership.objects.filter(pk=leaver.pk).exists()
    assert api_key_authenticate(theirs) is not None


def test_removed_member_loses_access(client_logged_in, workspace, leaver):
    theirs = Client()
    theirs.force_login(leaver.user)
    assert theirs.get(reverse("contacts:contact-list")).status_code == 200
    client_logged_in.post(remove_url(leaver))
    assert theirs.get(reverse("contacts:contact-list")).status_code == 403


def test_member_cannot_remove_anyone(member_client, workspace, leaver):
    assert member_client.get(remove_url(leaver)).status_code == 403
    assert member_client.post(remove_url(leaver)).status_code == 403
    assert Membership.objects.filter(pk=leaver.pk).exists()


def test_admin_cannot_remove_an_owner(workspace, user):
    admin = UserFactory(username="admin")
    MembershipFactory(user=admin, workspace=workspace, role=Membership.Role.ADMIN)
    client = Client()
    client.force_login(admin)
    owner = Membership.objects.get(user=user, workspace=workspace)
    assert client.post(remove_url(owner)).status_code == 403
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_last_owner_cannot_be_removed(client_logged_in, workspace, user):
    owner = Membership.objects.get(user=user, workspace=workspace)
    response = client_logged_in.post(remove_url(owner))
    assert response.status_code == 400
    assert b"last owner cannot be removed" in response.content
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_removing_another_workspaces_member_is_404(client_logged_in, other_workspace):
    stranger = MembershipFactory(user=UserFactory(username="s"), workspace=other_workspace)
    assert client_logged_in.get(remove_url(stranger)).status_code == 404
    assert client_logged_in.post(remove_url(stranger), {"revoke_keys": "1"}).status_code == 404
    assert Membership.objects.filter(pk=stranger.pk).exists()


def test_api_key_admin_shows_creator(db, workspace, user):
    api_key_create(workspace=workspace, name="Zapier", created_by=user)
    root = Client()
    root.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    page = root.get(reverse("admin:accounts_apikey_changelist")).content.decode()
    assert "Created by" in page and ApiKey.objects.get().created_by == user
