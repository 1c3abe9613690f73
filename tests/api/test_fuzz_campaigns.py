"""Property tests: whatever a client sends to the campaign, sender and agent endpoints, the
answer is 2xx/4xx, never 500; text the database cannot store is a 422 naming the field."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.models import Campaign
from conversations.models import Agent
from messaging.models import Sender

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.sampled_from(["\x00", "a\x00b", "\ud800", 2**63, -1, "2026-01-01T09:00", "contact_local"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3)
    ),
    max_leaves=8,
)


def bodies(*names):
    return st.dictionaries(st.sampled_from(names), json_values, max_size=len(names))


CAMPAIGN_FIELDS = (
    "name", "type", "contact_group_id", "message_template", "subject", "html_template",
    "agent_id", "sender_id", "scheduled_at", "timezone", "sending_window", "recurrence",
    "max_retries", "retry_interval", "state", "workspace", "id",
)  # fmt: skip
SENDER_FIELDS = ("channel", "address", "name", "rate_limit_per_second", "workspace")
AGENT_FIELDS = ("name", "instructions", "opening_message", "voice", "max_call_seconds", "id")
query_values = st.text(max_size=20) | st.sampled_from(["\x00", "99999999999999999999999", "-1"])

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NOT_500 = (200, 201, 400, 404, 409, 422)


@pytest.fixture
def campaign(workspace, group):
    return Campaign.objects.create(
        workspace=workspace, name="Visits", group=group, message_template="Hi"
    )


@FUZZ
@given(body=bodies(*CAMPAIGN_FIELDS))
def test_campaign_create_never_fails_with_500(api_client, group, body):
    body.setdefault("contact_group_id", group.pk)
    response = api_client.post("/api/v1/campaigns", body, content_type="application/json")
    assert response.status_code in NOT_500, (body, response.content)


@FUZZ
@given(body=bodies(*CAMPAIGN_FIELDS))
def test_campaign_patch_never_fails_with_500(api_client, campaign, body):
    url = f"/api/v1/campaigns/{campaign.pk}"
    response = api_client.patch(url, body, content_type="application/json")
    assert response.status_code in NOT_500, (body, response.content)


@FUZZ
@given(
    action=st.sampled_from(["", "/launch", "/pause", "/resume", "/results", "/messages"]),
    query=st.dictionaries(st.sampled_from(["state", "status", "page", "page_size"]), query_values),
    campaign_id=st.sampled_from(["0", "1", "99999999999999999999", "-3"]) | st.just("own"),
)
def test_campaign_reads_and_transitions_never_fail_with_500(
    api_client, campaign, action, query, campaign_id
):
    campaign_id = campaign.pk if campaign_id == "own" else campaign_id
    read = action in ("", "/results", "/messages")
    url = f"/api/v1/campaigns/{campaign_id}{action}"
    response = api_client.get(url, query) if read else api_client.post(url)
    assert response.status_code in NOT_500, (url, query, response.content)
    listing = api_client.get("/api/v1/campaigns", query)
    assert listing.status_code in NOT_500, (query, listing.content)


@FUZZ
@given(body=bodies(*SENDER_FIELDS))
def test_sender_create_never_fails_with_500(api_client, body):
    response = api_client.post("/api/v1/senders", body, content_type="application/json")
    assert response.status_code in NOT_500, (body, response.content)


@FUZZ
@given(body=bodies(*AGENT_FIELDS))
def test_agent_create_never_fails_with_500(api_client, body):
    response = api_client.post("/api/v1/agents", body, content_type="application/json")
    assert response.status_code in NOT_500, (body, response.content)


SURROGATE = "Hi \ud800"
WINDOW = {"excluded_days": ["Mo\x00"]}


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/campaigns", {"name": "Spring\x00sale", "message_template": "Hi"}, "name"),
        (
            "/api/v1/campaigns",
            {"name": "Spring", "message_template": SURROGATE},
            "message_template",
        ),
        ("/api/v1/campaigns", {"name": "S", "sending_window": WINDOW}, "sending_window"),
        ("/api/v1/senders", {"channel": "sms", "address": "+1415\x00"}, "address"),
        ("/api/v1/agents", {"name": "Ava\x00"}, "name"),
    ],
)
def test_text_the_database_cannot_store_is_a_422_naming_the_field(
    api_client, group, url, body, field
):
    if url.endswith("campaigns"):
        body["contact_group_id"] = group.pk
    response = api_client.post(url, body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"]
    assert not Campaign.objects.exists()
    assert not Sender.objects.exists()
    assert not Agent.objects.exists()


def test_a_patch_with_nul_changes_nothing(api_client, campaign):
    url = f"/api/v1/campaigns/{campaign.pk}"
    response = api_client.patch(url, {"name": "X\x00"}, content_type="application/json")
    assert response.status_code == 422 and "name" in response.json()["errors"]
    campaign.refresh_from_db()
    assert campaign.name == "Visits"
