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


@pytest.fixture(autouse=True)
def _uploads_read_at_once(request, monkeypatch):
    """An upload is read by a worker task (contacts.tasks.import_inspect_task, #13). Here it
    is read as soon as it is queued, in the limited child as on a worker, as if a worker were
    always free; the integration tests use real workers, and `uploads_held` keeps them queued
    to see the waiting state."""
    if request.node.get_closest_marker("integration") or "uploads_held" in request.fixturenames:
        return
    from contacts.importing import import_job_read, jobs

    monkeypatch.setattr(jobs, "_queue_read", lambda job: import_job_read(job_id=job.pk))


@pytest.fixture
def uploads_held(monkeypatch) -> list[int]:
    """Uploads' reading tasks are kept here (job ids) instead of run: call
    `contacts.importing.import_job_read(job_id=...)` to play the worker."""
    from contacts.importing import jobs

    held: list[int] = []
    monkeypatch.setattr(jobs, "_queue_read", lambda job: held.append(job.pk))
    return held


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
