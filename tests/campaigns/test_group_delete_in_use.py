"""Deleting a group that a campaign still sends to names the campaigns and asks first; the
API answers 409 unless `force` (#14 §2)."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from contacts.groups import GroupInUse, group_delete
from contacts.models import ContactGroup
from tests.campaigns.helpers import make_campaign, make_group


@pytest.fixture
def used_group(workspace):
    group = make_group(workspace, 2, name="Patients")
    make_campaign(workspace, group, name="Spring sale", state=Campaign.State.SCHEDULED)
    make_campaign(workspace, group, name="Reminders", state=Campaign.State.RUNNING)
    make_campaign(workspace, group, name="Old news", state=Campaign.State.COMPLETED)
    make_campaign(workspace, group, name="Idea", state=Campaign.State.DRAFT)
    return group


def test_service_refuses_a_group_in_use_unless_forced(used_group):
    with pytest.raises(GroupInUse) as refused:
        group_delete(group=used_group)
    assert refused.value.users == [
        "Campaign “Reminders” (running)",
        "Campaign “Spring sale” (scheduled)",
    ]
    assert ContactGroup.objects.filter(pk=used_group.pk).exists()
    group_delete(group=used_group, force=True)
    assert not ContactGroup.objects.filter(pk=used_group.pk).exists()


def test_a_group_only_drafts_and_finished_campaigns_use_is_deleted(workspace):
    group = make_group(workspace, 1)
    make_campaign(workspace, group, state=Campaign.State.COMPLETED)
    make_campaign(workspace, group, state=Campaign.State.DRAFT)
    group_delete(group=group)
    assert not ContactGroup.objects.filter(pk=group.pk).exists()


def test_page_asks_naming_the_campaigns_then_deletes_on_confirm(client_logged_in, used_group):
    url = reverse("contacts:group-delete", args=[used_group.pk])
    page = client_logged_in.post(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Campaign “Spring sale” (scheduled)" in html and "Reminders" in html
    assert "Old news" not in html and 'name="confirm" value="yes"' in html
    assert ContactGroup.objects.filter(pk=used_group.pk).exists()
    done = client_logged_in.post(url, {"confirm": "yes"})
    assert done.status_code == 302
    assert not ContactGroup.objects.filter(pk=used_group.pk).exists()


def test_api_answers_409_naming_the_campaigns_unless_force(api_client, used_group):
    url = f"/api/v1/campaigns/contact-groups/{used_group.pk}"
    response = api_client.delete(url)
    assert response.status_code == 409
    assert response.json()["errors"]["campaigns"][1] == "Campaign “Spring sale” (scheduled)"
    assert ContactGroup.objects.filter(pk=used_group.pk).exists()
    assert api_client.delete(f"{url}?force=true").status_code == 204
    assert not ContactGroup.objects.filter(pk=used_group.pk).exists()
