"""Agents can be deleted unless a scheduled or running campaign uses them (#14 §5)."""

from django.urls import reverse

from campaigns.models import Campaign
from conversations.models import Agent, AgentRule
from tests.campaigns.helpers import make_campaign, make_group
from tests.factories import WorkspaceFactory


def test_delete_an_agent_with_its_rules_and_free_drafts(client_logged_in, workspace):
    agent = Agent.objects.create(workspace=workspace, name="Ava")
    AgentRule.objects.create(workspace=workspace, agent=agent, keyword="HOURS", reply="9 to 5")
    draft = make_campaign(workspace, make_group(workspace, 1), agent=agent)
    done = make_campaign(workspace, draft.group, agent=agent, state=Campaign.State.COMPLETED)
    response = client_logged_in.post(reverse("conversations:agent-delete", args=[agent.pk]))
    assert response.status_code == 302
    assert not Agent.objects.exists() and not AgentRule.objects.exists()
    draft.refresh_from_db()
    done.refresh_from_db()
    assert draft.agent_id is None and done.agent_id is None


def test_an_agent_a_scheduled_campaign_uses_is_kept_and_named(client_logged_in, workspace):
    agent = Agent.objects.create(workspace=workspace, name="Ava")
    make_campaign(workspace, make_group(workspace, 1), name="Calls", agent=agent, state="scheduled")
    response = client_logged_in.post(
        reverse("conversations:agent-delete", args=[agent.pk]), follow=True
    )
    assert "Ava is still used by Campaign “Calls” (scheduled)" in response.content.decode()
    assert Agent.objects.filter(pk=agent.pk).exists()


def test_another_workspaces_agent_is_404(client_logged_in):
    foreign = Agent.objects.create(workspace=WorkspaceFactory(), name="Zed")
    url = reverse("conversations:agent-delete", args=[foreign.pk])
    assert client_logged_in.post(url).status_code == 404
    assert Agent.objects.filter(pk=foreign.pk).exists()
