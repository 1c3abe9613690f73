"""/api/v1/campaigns, senders, agents (A5) and the bad-input rules."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import tick as engine
from campaigns.models import Campaign
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group
from tests.factories import ContactGroupFactory, WorkspaceFactory


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def payload(group, **extra):
    data = {
        "name": "Reminders",
        "type": "sms",
        "contact_group_id": group.id,
        "message_template": "Hi {{first_name|there}}",
        "timezone": "America/New_York",
        "sending_window": {"start_hour": 0, "end_hour": 24, "excluded_days": []},
        "max_retries": 1,
        "retry_interval": 60,
    }
    data.update(extra)
    return data


def test_create_launch_send_results_and_messages(api_client, workspace):
    group = make_group(workspace, 3)
    response = post(api_client, "/api/v1/campaigns", payload(group))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "draft" and body["type"] == "sms"
    cid = body["id"]
    launched = post(api_client, f"/api/v1/campaigns/{cid}/launch", {})
    assert launched.json()["state"] == "running"
    engine.tick(send_inline=True)
    results = api_client.get(f"/api/v1/campaigns/{cid}/results").json()
    assert results["total_contacts"] == 3 and results["delivered"] == 3
    assert results["pending"] == 0 and results["skipped"] == 0 and results["status"] == "completed"
    assert set(results) >= {"sent", "replied", "failed", "reply_rate", "average_response_time"}
    page = api_client.get(f"/api/v1/campaigns/{cid}/messages?page_size=2").json()
    assert page["count"] == 3 and len(page["items"]) == 2
    assert page["items"][0]["to"].startswith("+1") and page["items"][0]["body"] == "Hi Ann0"


def test_scheduled_campaign_launches_as_scheduled_and_naive_time_is_in_its_zone(
    api_client, workspace
):
    group = make_group(workspace, 1)
    when = (
        (timezone.now() + timedelta(days=2))
        .astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
        .replace(tzinfo=None, microsecond=0)
    )
    body = post(
        api_client,
        "/api/v1/campaigns",
        payload(group, scheduled_at=when.isoformat(), timezone="Asia/Tokyo"),
    ).json()
    campaign = Campaign.objects.get(pk=body["id"])
    assert (
        campaign.scheduled_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo")).replace(
            tzinfo=None
        )
        == when
    )
    assert body["state"] == "scheduled"  # created with scheduled_at: scheduled at once


def test_pause_resume_and_pause_completed_is_409(api_client, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 2))
    cid = campaign.id
    post(api_client, f"/api/v1/campaigns/{cid}/launch", {})
    assert post(api_client, f"/api/v1/campaigns/{cid}/pause", {}).json()["state"] == "paused"
    engine.tick(send_inline=True)
    assert not Message.objects.exclude(status="queued").exists()  # nothing sent while paused
    assert post(api_client, f"/api/v1/campaigns/{cid}/resume", {}).json()["state"] == "running"
    engine.tick(send_inline=True)
    response = post(api_client, f"/api/v1/campaigns/{cid}/pause", {})
    assert response.status_code == 409
    assert "completed" in response.json()["message"].lower()


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"sending_window": {"start_hour": 17, "end_hour": 9}}, "sending_window"),
        (
            {
                "sending_window": {
                    "excluded_days": [
                        "Monday",
                        "Tuesday",
                        "Wednesday",
                        "Thursday",
                        "Friday",
                        "Saturday",
                        "Sunday",
                    ]
                }
            },
            "sending_window",
        ),
        ({"scheduled_at": "2020-01-01T09:00:00"}, "scheduled_at"),
        ({"type": "fax"}, "type"),
        (
            {"recurrence": {"frequency": "weekly"}, "scheduled_at": "2030-01-01T09:00:00"},
            "recurrence",
        ),
        ({"message_template": ""}, "message_template"),
    ],
)
def test_bad_input_is_refused_with_field_errors(api_client, workspace, extra, field):
    group = make_group(workspace, 1)
    response = post(api_client, "/api/v1/campaigns", payload(group, **extra))
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Campaign.objects.exists()


def test_launch_against_empty_group_is_refused(api_client, workspace):
    group = ContactGroupFactory(workspace=workspace)
    cid = post(api_client, "/api/v1/campaigns", payload(group)).json()["id"]
    response = post(api_client, f"/api/v1/campaigns/{cid}/launch", {})
    assert response.status_code == 400 and "no contacts" in str(response.json()["errors"])
    assert Campaign.objects.get().state == "draft"


def test_launch_refuses_a_schedule_that_became_past(api_client, workspace):
    campaign = make_campaign(
        workspace, make_group(workspace, 1), scheduled_at=timezone.now() - timedelta(minutes=1)
    )
    response = post(api_client, f"/api/v1/campaigns/{campaign.id}/launch", {})
    assert response.status_code == 400 and "past" in str(response.json()["errors"])


def test_editing_a_running_campaigns_template_is_refused_but_name_is_allowed(api_client, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1))
    post(api_client, f"/api/v1/campaigns/{campaign.id}/launch", {})
    url = f"/api/v1/campaigns/{campaign.id}"
    response = api_client.patch(url, {"message_template": "New"}, content_type="application/json")
    assert response.status_code == 400 and "message_template" in response.json()["errors"]
    response = api_client.patch(url, {"name": "Renamed"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["name"] == "Renamed"
    assert Campaign.objects.get().message_template.startswith("Hi")


def test_patch_draft_changes_template(api_client, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1))
    response = api_client.patch(
        f"/api/v1/campaigns/{campaign.id}",
        {"message_template": "New {{first_name}}"},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["message_template"].startswith("New")


def test_other_workspace_campaign_and_group_are_404(api_client, workspace):
    other = WorkspaceFactory()
    foreign = make_campaign(other, make_group(other, 1))
    assert api_client.get(f"/api/v1/campaigns/{foreign.id}").status_code == 404
    assert post(api_client, f"/api/v1/campaigns/{foreign.id}/launch", {}).status_code == 404
    assert api_client.get(f"/api/v1/campaigns/{foreign.id}/results").status_code == 404
    response = post(api_client, "/api/v1/campaigns", payload(foreign.group))
    assert response.status_code == 400 and "contact_group_id" in response.json()["errors"]


def test_senders_and_agents(api_client, workspace):
    response = post(
        api_client,
        "/api/v1/senders",
        {"channel": "sms", "address": "+14155550100", "rate_limit_per_second": 2},
    )
    assert response.status_code == 201 and response.json()["rate_limit_per_second"] == 2
    assert (
        post(
            api_client, "/api/v1/senders", {"channel": "sms", "address": "+14155550100"}
        ).status_code
        == 400
    )
    assert (
        post(api_client, "/api/v1/senders", {"channel": "email", "address": "nope"}).status_code
        == 400
    )
    assert api_client.get("/api/v1/senders").json()["count"] == 1
    response = post(
        api_client,
        "/api/v1/agents",
        {"name": "Ava", "opening_message": "Hello", "max_call_seconds": 120},
    )
    assert response.status_code == 201 and response.json()["max_call_seconds"] == 120
    assert api_client.get("/api/v1/agents").json()["items"][0]["name"] == "Ava"


def test_sender_of_other_channel_is_refused(api_client, workspace):
    sender = post(
        api_client, "/api/v1/senders", {"channel": "email", "address": "news@example.com"}
    ).json()
    group = make_group(workspace, 1)
    response = post(api_client, "/api/v1/campaigns", payload(group, sender_id=sender["id"]))
    assert response.status_code == 400 and "sender" in response.json()["errors"]


def test_requires_api_key(client, db):
    assert client.get("/api/v1/campaigns").status_code == 401
