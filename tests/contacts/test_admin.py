import pytest
from django.test import Client
from django.urls import reverse

from contacts.models import ContactEvent, ExportJob, GroupMembership
from contacts.services import contact_opt_out
from tests.factories import ContactFactory, ContactGroupFactory, UserFactory

MODELS = [
    "contact",
    "contactgroup",
    "groupmembership",
    "tag",
    "contactevent",
    "importjob",
    "importrowerror",
    "exportjob",
]


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", MODELS)
def test_admin_changelist_search_and_change_pages(admin_client, workspace, model):
    group = ContactGroupFactory(workspace=workspace, name="<b>G</b>")
    contact = ContactFactory(workspace=workspace, in_groups=[group])
    contact_opt_out(contact=contact, reason="manual")
    ExportJob.objects.create(workspace=workspace)
    objects = {
        "contact": contact,
        "contactgroup": group,
        "groupmembership": GroupMembership.objects.get(contact=contact),
        "contactevent": ContactEvent.objects.filter(contact=contact).first(),
        "exportjob": ExportJob.objects.get(workspace=workspace),
    }
    url = reverse(f"admin:contacts_{model}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "x"}).status_code == 200
    if model in objects:
        change = reverse(f"admin:contacts_{model}_change", args=[objects[model].pk])
        assert admin_client.get(change).status_code == 200
