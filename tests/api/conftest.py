import pytest

from accounts.services import api_key_create
from contacts.models import Contact
from tests.factories import ContactFactory, ContactGroupFactory


@pytest.fixture
def other_api_client(other_workspace):
    from django.test import Client

    _, raw = api_key_create(workspace=other_workspace, name="other")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def group(workspace):
    return ContactGroupFactory(workspace=workspace, name="Leads")


@pytest.fixture
def contact(workspace, group) -> Contact:
    return ContactFactory(
        workspace=workspace,
        first_name="Jane",
        last_name="Smith",
        email="jane@example.com",
        phone="+14155551234",
        in_groups=[group],
    )


@pytest.fixture
def foreign_group(other_workspace):
    return ContactGroupFactory(workspace=other_workspace, name="Their group")


@pytest.fixture
def foreign_contact(other_workspace, foreign_group) -> Contact:
    return ContactFactory(
        workspace=other_workspace,
        first_name="Eve",
        email="eve@example.com",
        phone="+12025550143",
        in_groups=[foreign_group],
    )
