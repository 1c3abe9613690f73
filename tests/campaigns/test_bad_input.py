"""Inputs that gave HTTP 500 (issue 13, item 8): each is a clear 4xx now (JSON from the API,
the form again with the error from a page) and writes nothing."""

import json

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from conversations.models import Agent
from messaging.models import Sender
from tests.campaigns.helpers import make_campaign, make_group

pytestmark = pytest.mark.django_db
LONG_EMAIL = "a" * 60 + "@" + ("b" * 63 + ".") * 4 + "com"  # 320 characters: validate_email
# takes it, the column holds 254


@pytest.fixture
def group(workspace):
    return make_group(workspace, 1)


def _api(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def _campaign(group, **fields) -> dict:
    return {
        "name": "Spring",
        "type": "sms",
        "contact_group_id": group.pk,
        "message_template": "Hi",
        **fields,
    }


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"type": "email", "subject": "s" * 256}, "subject", "At most 255 characters"),
        ({"message_template": "x" * 10_001}, "message_template", "At most 10,000 characters"),
        (
            {"type": "email", "subject": "Hi", "html_template": "x" * (512 * 1024 + 1)},
            "html_template",
            "At most",
        ),
        (
            {"timezone": "contact_local", "scheduled_at": "9999-12-31T23:59:59"},
            "scheduled_at",
            "between 2000 and 2999",
        ),
        (
            {"timezone": "Pacific/Kiritimati", "scheduled_at": "9999-12-31T23:59:59Z"},
            "scheduled_at",
            "between 2000 and 2999",
        ),
    ],
)
def test_api_campaign_inputs_are_a_clear_400(api_client, group, fields, field, words):
    response = _api(api_client, "/api/v1/campaigns", _campaign(group, **fields))
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert words in response.json()["errors"][field][0]
    assert not Campaign.objects.exists()


def test_api_sender_email_over_254_characters_is_a_400(api_client):
    response = _api(api_client, "/api/v1/senders", {"channel": "email", "address": LONG_EMAIL})
    assert response.status_code == 400
    assert response.json()["errors"]["address"] == ["An email address has at most 254 characters."]
    assert not Sender.objects.exists()


def test_api_huge_page_numbers_are_answered(api_client, workspace, group):
    campaign = make_campaign(workspace, group)
    for path in (f"/api/v1/campaigns/{campaign.pk}/messages", "/api/v1/contacts"):
        for page in ("1e20", "100000000000000000000", "-1"):
            response = api_client.get(f"{path}?page={page}")
            assert response.status_code in (200, 422), (path, page)
            assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("query", ["page=100000000000000000000", "page=1e20", "page=-1"])
def test_contacts_list_huge_or_odd_page_numbers(client_logged_in, group, query):
    assert client_logged_in.get(f"/contacts/?{query}").status_code in (200, 404)


# Dashboard forms ------------------------------------------------------------------------------


def test_sender_form_refuses_nul_and_overlong_email(client_logged_in):
    url = reverse("campaigns:sender-new")
    bad = [
        ({"channel": "email", "address": LONG_EMAIL}, "at most 254 characters"),
        ({"channel": "email", "address": "a@b.co", "name": "x\x00y"}, "NUL character"),
    ]
    for data, words in bad:
        response = client_logged_in.post(url, data)
        assert response.status_code == 200 and words in response.content.decode()
    assert not Sender.objects.exists()


def test_agent_form_refuses_nul_and_overlong_text(client_logged_in):
    url = reverse("conversations:agent-new")
    for data, words in [
        ({"name": "x\x00y"}, "NUL character"),
        ({"name": "Ava", "instructions": "i\x00"}, "NUL character"),
        ({"name": "Ava", "opening_message": "o" * 10_001}, "Keep it under 10,000 characters"),
    ]:
        response = client_logged_in.post(url, data)
        assert response.status_code == 200 and words in response.content.decode()
    assert not Agent.objects.exists()


def test_api_agent_overlong_opening_message_is_a_400(api_client):
    response = _api(api_client, "/api/v1/agents", {"name": "Ava", "opening_message": "o" * 10_001})
    assert response.status_code == 400
    assert "under 10,000 characters" in response.json()["errors"]["opening_message"][0]
    assert not Agent.objects.exists()


def test_builder_refuses_nul_names_and_overlong_subjects(client_logged_in, workspace, group):
    campaign = make_campaign(workspace, group, channel="email", subject="Hi")
    before = Campaign.objects.values().get(pk=campaign.pk)
    steps = [
        ("settings", {"name": "a\x00b"}, "NUL character"),
        ("message", {"subject": "s" * 256, "message_template": "x"}, "At most 255 characters"),
        ("message", {"subject": "Hi", "message_template": "a\x00b"}, "NUL character"),
    ]
    for step, data, words in steps:
        url = reverse("campaigns:campaign-build", args=[campaign.pk, step])
        response = client_logged_in.post(url, data)
        assert response.status_code == 200 and words in response.content.decode(), step
    rename = reverse("campaigns:campaign-rename", args=[campaign.pk])
    assert client_logged_in.post(rename, {"name": "a\x00b"}).status_code == 302
    assert Campaign.objects.values().get(pk=campaign.pk) == before
