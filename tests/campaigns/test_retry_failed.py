"""Retry failed messages (#12 defect 6): the service, the campaign page's button and the API."""

import pytest
from django.urls import reverse

from campaigns import lifecycle
from campaigns import tick as engine
from campaigns.lifecycle import StateError, campaign_launch, campaign_retry_failed
from campaigns.models import Campaign, CampaignRun
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db
S = Message.Status


def _completed_with_failures(workspace, n=3, failed=2) -> Campaign:
    campaign = make_campaign(workspace, make_group(workspace, n))
    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)  # console backend: all delivered
    ids = list(Message.objects.filter(campaign=campaign).order_by("id")[:failed])
    Message.objects.filter(id__in=[m.id for m in ids]).update(
        status=S.FAILED, attempts=3, last_error="Twilio 401 (code 20003)", error_code="20003"
    )
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED
    return campaign


def test_retry_queues_the_failed_as_new_reopens_the_run_and_sends_them_once(workspace):
    campaign = _completed_with_failures(workspace)
    assert campaign_retry_failed(campaign=campaign) == 2
    retried = Message.objects.filter(campaign=campaign, status=S.QUEUED)
    assert {(m.attempts, m.last_error, m.error_code) for m in retried} == {(0, "", "")}
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING
    assert campaign.runs.get().state == CampaignRun.State.RUNNING
    engine.tick(send_inline=True)
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED
    statuses = Message.objects.filter(campaign=campaign).values_list("status", flat=True)
    assert sorted(statuses) == [S.DELIVERED] * 3
    assert campaign_retry_failed(campaign=campaign) == 0  # nothing left to retry


def test_a_paused_campaign_keeps_the_retried_until_it_resumes(workspace):
    campaign = _completed_with_failures(workspace, n=2, failed=1)
    Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.PAUSED)
    CampaignRun.objects.update(paused=True)
    campaign.refresh_from_db()
    assert campaign_retry_failed(campaign=campaign) == 1
    engine.tick(send_inline=True)
    assert Message.objects.filter(campaign=campaign, status=S.QUEUED).count() == 1


def test_a_draft_has_nothing_to_retry(workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1))
    with pytest.raises(StateError):
        lifecycle.campaign_retry_failed(campaign=campaign)


def test_the_campaign_page_offers_and_does_the_retry(client_logged_in, workspace):
    campaign = _completed_with_failures(workspace)
    url = reverse("campaigns:campaign-state", args=[campaign.pk, "retry-failed"])
    page = client_logged_in.get(reverse("campaigns:campaign-detail", args=[campaign.pk]))
    assert url in page.content.decode()
    response = client_logged_in.post(url, follow=True)
    assert "2 failed message(s) queued again." in response.content.decode()
    assert Message.objects.filter(campaign=campaign, status=S.QUEUED).count() == 2
    response = client_logged_in.post(url, follow=True)
    assert "No failed messages to retry." in response.content.decode()


def test_the_page_offers_no_retry_without_failures(client_logged_in, workspace):
    campaign = _completed_with_failures(workspace, failed=0)
    page = client_logged_in.get(reverse("campaigns:campaign-detail", args=[campaign.pk]))
    assert "retry-failed" not in page.content.decode()


def test_the_api_retries_and_refuses_a_draft_and_another_workspace(api_client, workspace):
    campaign = _completed_with_failures(workspace)
    response = api_client.post(f"/api/v1/campaigns/{campaign.id}/retry-failed")
    assert response.status_code == 200, response.json()
    assert response.json()["retried"] == 2
    assert response.json()["campaign"]["state"] == "running"
    draft = make_campaign(workspace, make_group(workspace, 1, name="Other"))
    response = api_client.post(f"/api/v1/campaigns/{draft.id}/retry-failed")
    assert response.status_code == 409
    other = WorkspaceFactory()
    foreign = make_campaign(other, make_group(other, 1))
    assert api_client.post(f"/api/v1/campaigns/{foreign.id}/retry-failed").status_code == 404
