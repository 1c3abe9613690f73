"""The API docs' examples (seed 001 and 002, adapted to Herald) work as shown."""

import json
from datetime import timedelta

from django.utils import timezone

from api.docs import API_DESCRIPTION, CAMPAIGN_EXAMPLES, LIST_EXAMPLES, RESULTS_EXAMPLE
from campaigns.models import Campaign
from conversations.models import Agent
from tests.campaigns.helpers import make_group
from tests.factories import ContactFactory, ContactGroupFactory


def test_the_schema_shows_the_examples(api_client):
    description = api_client.get("/api/v1/openapi.json").json()["info"]["description"]
    assert description == API_DESCRIPTION
    assert '"contact_group_id": 12' in description and '"reply_rate": "29.3%"' in description
    assert "POST /api/v1/contacts/list/contacts" in description


def test_the_results_example_is_consistent():
    example = RESULTS_EXAMPLE
    assert round(example["replied"] / example["sent"], 4) == example["reply_rate_value"]
    assert f"{100 * example['reply_rate_value']:.1f}%" == example["reply_rate"]


def test_the_campaign_examples_create_scheduled_campaigns(api_client, workspace):
    group = make_group(workspace, 2)
    agent = Agent.objects.create(workspace=workspace, name="Ava")
    later = timezone.now() + timedelta(days=5)
    for name, example in CAMPAIGN_EXAMPLES.items():
        body = example | {"contact_group_id": group.pk, "agent_id": agent.pk}
        wall = later.replace(tzinfo=None, microsecond=0).isoformat()
        body["scheduled_at"] = wall + ("Z" if example["scheduled_at"].endswith("Z") else "")
        response = api_client.post("/api/v1/campaigns", body, content_type="application/json")
        assert response.status_code == 201, (name, response.json())
        assert response.json()["state"] == "scheduled"
    assert Campaign.objects.filter(state="scheduled").count() == 2


def test_the_list_examples_work(api_client, workspace):
    lists = [ContactGroupFactory(workspace=workspace, name=n) for n in ("A", "B")]
    contacts = [ContactFactory(workspace=workspace, phone=f"+1415555012{i}") for i in range(2)]
    ids = {12: lists[0].pk, 13: lists[1].pk, 101: contacts[0].pk, 102: contacts[1].pk}
    for call, example in LIST_EXAMPLES.items():
        method, path = call.split(" ")
        path = path.replace("{id}", str(contacts[0].pk))
        body = {
            key: [ids[v] for v in value] if isinstance(value, list) else value
            for key, value in example.items()
        }
        response = getattr(api_client, method.lower())(
            path, json.dumps(body), content_type="application/json"
        )
        assert response.status_code in (200, 201), (call, response.json())


def test_the_schema_is_built_once(api_client, monkeypatch):
    import ninja.main

    api_client.get("/api/v1/openapi.json")  # built by this or an earlier test
    built = []
    real = ninja.main.get_schema
    monkeypatch.setattr(ninja.main, "get_schema", lambda **kw: built.append(1) or real(**kw))
    first = api_client.get("/api/v1/openapi.json").json()
    second = api_client.get("/api/v1/openapi.json").json()
    assert built == [] and first == second and "/api/v1/smart-groups" in first["paths"]
