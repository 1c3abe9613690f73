"""Agent and AgentRule moved to conversations with their rows (campaigns 0004-0005,
messaging 0008, conversations 0001), on whichever database the suite runs on."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [
    ("accounts", "0001_initial"),
    ("contenttypes", "0002_remove_content_type_name"),
    ("contacts", "0004_status_index"),
    ("campaigns", "0003_campaign_group_set_null"),
    ("messaging", "0007_message_fan_out_indexes"),
]
AFTER = [
    ("campaigns", "0005_campaign_agent_in_conversations"),
    ("conversations", "0001_initial"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_rows(transactional_db):
    """Rows written by the code before the move, through the models as they were."""
    apps = _migrate(BEFORE)
    Workspace = apps.get_model("accounts", "Workspace")
    Agent = apps.get_model("campaigns", "Agent")
    AgentRule = apps.get_model("messaging", "AgentRule")
    Campaign = apps.get_model("campaigns", "Campaign")
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.get_or_create(app_label="campaigns", model="agent")
    workspace = Workspace.objects.create(name="Acme", slug="acme-migration")
    agent = Agent.objects.create(workspace=workspace, name="Ava", opening_message="Hi")
    rule = AgentRule.objects.create(workspace=workspace, agent=agent, keyword="YES", reply="ok")
    campaign = Campaign.objects.create(workspace=workspace, name="Visits", agent=agent)
    yield {"agent": agent.pk, "rule": rule.pk, "campaign": campaign.pk}
    call_command("migrate", verbosity=0)  # the rest of the suite expects the latest schema


def test_agents_and_rules_move_with_their_rows_links_and_content_type(old_rows):
    _migrate(AFTER)
    call_command("migrate", verbosity=0)
    from django.contrib.contenttypes.models import ContentType

    from campaigns.models import Campaign
    from conversations.models import Agent, AgentRule

    agent = Agent.objects.get(pk=old_rows["agent"])
    assert (agent.name, agent.opening_message) == ("Ava", "Hi")
    assert AgentRule.objects.get(pk=old_rows["rule"]).agent == agent
    campaign = Campaign.objects.select_related("agent").get(pk=old_rows["campaign"])
    assert campaign.agent == agent
    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(Agent).app_label == "conversations"
    assert not ContentType.objects.filter(app_label="campaigns", model="agent").exists()
    # New rows get ids after the old ones: the sequence came along with the table.
    newer = Agent.objects.create(workspace=agent.workspace, name="Bo")
    assert newer.pk > agent.pk
    # The campaign's foreign key follows the renamed table: deleting the agent clears it.
    agent.delete()
    campaign.refresh_from_db()
    assert campaign.agent is None
    assert not AgentRule.objects.filter(pk=old_rows["rule"]).exists()


def test_the_move_reverses(old_rows):
    _migrate(AFTER)
    apps = _migrate(BEFORE)
    Agent = apps.get_model("campaigns", "Agent")
    AgentRule = apps.get_model("messaging", "AgentRule")
    assert Agent.objects.get(pk=old_rows["agent"]).name == "Ava"
    assert AgentRule.objects.get(pk=old_rows["rule"]).keyword == "YES"
