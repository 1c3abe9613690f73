import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Membership
from accounts.services import api_key_create

from .factories import MembershipFactory, UserFactory, WorkspaceFactory


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache, as a new process does. SQLite gives a rolled-back
    row's id to the next test's row, so a value cached under an id (a campaign's chart) would
    otherwise answer for another test's object."""
    cache.clear()
    yield


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def other_workspace(db):
    return WorkspaceFactory(name="Globex", slug="globex")


@pytest.fixture
def user(workspace):
    user = UserFactory(username="owner")
    MembershipFactory(user=user, workspace=workspace, role=Membership.Role.OWNER)
    return user


@pytest.fixture
def member(workspace):
    user = UserFactory(username="member")
    MembershipFactory(user=user, workspace=workspace, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def client_logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def member_client(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def api_key(workspace) -> str:
    _, raw = api_key_create(workspace=workspace, name="tests")
    return raw


@pytest.fixture
def api_client(api_key) -> Client:
    """A test client that sends the workspace's API key as a bearer token."""
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
