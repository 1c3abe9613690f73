import pytest

from conversations.models import AgentRule

from .factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(workspace):
    return AgentFactory(workspace=workspace, name="Ava")


def test_agent_rules_page_adds_rule(client_logged_in, agent):
    url = f"/conversations/agents/{agent.pk}/replies/"
    response = client_logged_in.post(
        url, {"keyword": " confirm. ", "reply": "Thanks {{first_name}}!"}
    )
    assert response.status_code == 302
    rule = AgentRule.objects.get(agent=agent)
    assert (rule.keyword, rule.reply, rule.workspace_id) == (
        "CONFIRM",
        "Thanks {{first_name}}!",
        agent.workspace_id,
    )
    page = client_logged_in.get(url)
    assert b"CONFIRM" in page.content


@pytest.mark.parametrize(
    ("keyword", "reply", "message"),
    [
        ("STOP", "x", b"Herald answers it itself"),
        ("two words", "x", b"Use one word"),
        ("CONFIRM", "", b"Write the reply"),
    ],
)
def test_agent_rules_bad_input_shows_error_and_saves_nothing(
    client_logged_in, agent, keyword, reply, message
):
    response = client_logged_in.post(
        f"/conversations/agents/{agent.pk}/replies/", {"keyword": keyword, "reply": reply}
    )
    assert response.status_code == 200
    assert message in response.content
    assert not AgentRule.objects.exists()


def test_agent_rules_duplicate_keyword_is_an_error(client_logged_in, agent):
    url = f"/conversations/agents/{agent.pk}/replies/"
    client_logged_in.post(url, {"keyword": "CONFIRM", "reply": "a"})
    response = client_logged_in.post(url, {"keyword": "confirm", "reply": "b"})
    assert b"already answers CONFIRM" in response.content
    assert AgentRule.objects.count() == 1


def test_agent_rules_delete(client_logged_in, agent):
    rule = AgentRule.objects.create(workspace=agent.workspace, agent=agent, keyword="X", reply="y")
    response = client_logged_in.post(f"/conversations/agents/{agent.pk}/replies/{rule.pk}/delete/")
    assert response.status_code == 302
    assert not AgentRule.objects.exists()


def test_agent_rules_other_workspace_is_404(client_logged_in, other_workspace):
    stranger = AgentFactory(workspace=other_workspace)
    rule = AgentRule.objects.create(
        workspace=other_workspace, agent=stranger, keyword="X", reply="y"
    )
    assert client_logged_in.get(f"/conversations/agents/{stranger.pk}/replies/").status_code == 404
    url = f"/conversations/agents/{stranger.pk}/replies/{rule.pk}/delete/"
    assert client_logged_in.post(url).status_code == 404
    assert AgentRule.objects.filter(pk=rule.pk).exists()


def test_agent_rules_escape_reply(client_logged_in, agent):
    AgentRule.objects.create(workspace=agent.workspace, agent=agent, keyword="X", reply="<b>hi</b>")
    page = client_logged_in.get(f"/conversations/agents/{agent.pk}/replies/")
    assert b"&lt;b&gt;hi&lt;/b&gt;" in page.content
