"""The API keeps the seeds' promises (#14 §6): results as seed 001 shows them, a campaign
created with scheduled_at is scheduled, PUT updates what it is given, every list is
{items, count} with limit/offset."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch
from campaigns.models import Campaign
from campaigns.selectors import duration_display
from conversations.models import Agent
from messaging.models import InboundMessage, Message
from tests.campaigns.helpers import make_campaign, make_group, make_sender
from tests.factories import ContactFactory, ContactGroupFactory


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def seed_body(group, **extra):
    """Seed 001's example, adapted: integer ids, a date still to come."""
    return {
        "name": "Appointment Reminders",
        "type": "sms",
        "contact_group_id": group.id,
        "message_template": "Hi {{first_name}}, your appointment is on {{date}}.",
        "scheduled_at": (timezone.now() + timedelta(days=3)).replace(microsecond=0).isoformat(),
        "timezone": "America/New_York",
    } | extra


@pytest.mark.parametrize(
    "seconds, shown",
    [(45, "45s"), (263, "4m 23s"), (263.4, "4m 23s"), (7205, "2h 0m 5s"), (90061, "1d 1h 1m")],
)
def test_duration_display(seconds, shown):
    assert duration_display(seconds) == shown


def test_results_give_seed_strings_with_the_numbers_beside_them(api_client, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 3))
    url = f"/api/v1/campaigns/{campaign.id}/results"
    before = api_client.get(url).json()
    assert before["reply_rate"] == "0.0%" and before["reply_rate_value"] == 0.0
    assert before["average_response_time"] is None and before["average_response_seconds"] is None
    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)
    first = Message.objects.filter(campaign=campaign).order_by("id").first()
    Message.objects.filter(pk=first.pk).update(replied_at=timezone.now())
    InboundMessage.objects.create(
        workspace=workspace,
        from_address=first.to_address,
        body="CONFIRM",
        provider_message_id="SMreply",
        in_reply_to=first,
        response_seconds=263,
    )
    results = api_client.get(url).json()
    assert results["reply_rate"] == "33.3%" and results["reply_rate_value"] == 0.3333
    assert results["average_response_time"] == "4m 23s"
    assert results["average_response_seconds"] == 263.0


def test_create_with_scheduled_at_is_scheduled(api_client, workspace):
    response = post(api_client, "/api/v1/campaigns", seed_body(make_group(workspace, 2)))
    assert response.status_code == 201, response.json()
    assert response.json()["state"] == "scheduled"
    assert response.json()["next_run_at"] is not None
    assert Campaign.objects.get().state == Campaign.State.SCHEDULED


def test_create_with_scheduled_at_and_draft_stays_a_draft(api_client, workspace):
    body = seed_body(make_group(workspace, 2), draft=True)
    response = post(api_client, "/api/v1/campaigns", body)
    assert response.status_code == 201 and response.json()["state"] == "draft"
    launched = post(api_client, f"/api/v1/campaigns/{response.json()['id']}/launch", {})
    assert launched.json()["state"] == "scheduled"


def test_create_without_scheduled_at_is_a_draft(api_client, workspace):
    body = seed_body(make_group(workspace, 2))
    del body["scheduled_at"]
    assert post(api_client, "/api/v1/campaigns", body).json()["state"] == "draft"


def test_create_that_cannot_be_scheduled_creates_nothing(api_client, workspace):
    response = post(
        api_client, "/api/v1/campaigns", seed_body(ContactGroupFactory(workspace=workspace))
    )
    assert response.status_code == 400 and "no contacts" in str(response.json()["errors"])
    assert not Campaign.objects.exists()


def test_contact_put_updates_only_what_it_is_given(api_client, workspace):
    contact = ContactFactory(
        workspace=workspace,
        first_name="Jane",
        last_name="Doe",
        email="jane@example.com",
        phone="+14155550123",
        company="Acme",
        metadata={"plan": "gold"},
    )
    response = api_client.put(
        f"/api/v1/contacts/{contact.pk}",
        {"company": "Globex", "last_name": None},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    contact.refresh_from_db()
    assert contact.company == "Globex"
    assert (contact.first_name, contact.last_name) == ("Jane", "Doe")
    assert (contact.email, contact.phone) == ("jane@example.com", "+14155550123")
    assert contact.metadata == {"plan": "gold"}


def test_contact_put_that_would_leave_no_phone_or_email_is_400(api_client, workspace):
    contact = ContactFactory(workspace=workspace, email="jane@example.com", phone="")
    response = api_client.put(
        f"/api/v1/contacts/{contact.pk}", {"email": ""}, content_type="application/json"
    )
    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.email == "jane@example.com"


@pytest.mark.parametrize("path", ["/api/v1/campaigns", "/api/v1/senders", "/api/v1/agents"])
def test_lists_are_items_and_count_with_limit_and_offset(api_client, workspace, path):
    group = make_group(workspace, 1)
    for i in range(3):
        make_campaign(workspace, group, name=f"C{i}")
        make_sender(workspace, address=f"+1415555010{i}")
        Agent.objects.create(workspace=workspace, name=f"Agent {i}")
    whole = api_client.get(path).json()
    assert whole["count"] == 3 and len(whole["items"]) == 3
    page = api_client.get(path, {"limit": 2, "offset": 2}).json()
    assert page["count"] == 3 and [i["id"] for i in page["items"]] == [whole["items"][2]["id"]]
    assert api_client.get(path, {"limit": 0}).status_code == 422


def test_campaign_messages_page_with_limit_and_offset(api_client, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 3))
    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)
    url = f"/api/v1/campaigns/{campaign.id}/messages"
    ids = [m["id"] for m in api_client.get(url).json()["items"]]
    page = api_client.get(url, {"limit": 1, "offset": 1}).json()
    assert page["count"] == 3 and [m["id"] for m in page["items"]] == ids[1:2]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/campaigns/abc",
        "/api/v1/campaigns/abc/results",
        "/api/v1/contacts/abc",
        "/api/v1/campaigns/contact-groups/abc",
        "/api/v1/smart-groups/abc",
    ],
)
def test_non_integer_id_is_a_json_404(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["message"] == "Not found."
