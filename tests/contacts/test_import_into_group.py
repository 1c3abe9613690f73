"""“Import contacts” from a group's page preselects that group in the preview (#14 §5)."""

import re

from django.urls import reverse

from contacts.importing import import_job_set_mapping
from contacts.models import ImportJob
from tests.factories import ContactGroupFactory, WorkspaceFactory


def test_import_from_a_group_page_preselects_the_group(client_logged_in, workspace):
    group = ContactGroupFactory(workspace=workspace, name="Patients")
    ContactGroupFactory(workspace=workspace, name="Other")
    listing = client_logged_in.get(reverse("contacts:contact-list"), {"group": group.pk})
    start_url = f"{reverse('contacts:import-start')}?group={group.pk}"
    assert f'href="{start_url}"' in listing.content.decode()
    page = client_logged_in.get(start_url).content.decode()
    assert "Import contacts into “Patients”" in page
    response = client_logged_in.post(start_url, {"text": "phone,name\n+14155550100,Ann\n"})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.options["group_id"] == group.pk
    import_job_set_mapping(job=job, mapping=None)
    preview = client_logged_in.get(reverse("contacts:import-preview", args=[job.pk]))
    html = preview.content.decode()
    block = re.search(r'<select name="group".*?</select>', html, re.S).group(0)
    selected = re.findall(r'<option value="(\d+)" selected>', block)
    assert selected == [str(group.pk)]


def test_another_workspaces_group_is_not_preselected(client_logged_in, workspace):
    foreign = ContactGroupFactory(workspace=WorkspaceFactory(), name="Theirs")
    url = f"{reverse('contacts:import-start')}?group={foreign.pk}"
    assert "Theirs" not in client_logged_in.get(url).content.decode()
    client_logged_in.post(url, {"text": "phone\n+14155550100\n"})
    assert "group_id" not in ImportJob.objects.get().options
