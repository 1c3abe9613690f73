import pytest

from conversations.models import AgentRule

from .factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ["agent", "agentrule"])
def test_conversations_admin_lists(admin_client, workspace, model):
    agent = AgentFactory(workspace=workspace, name="<script>x</script>")
    AgentRule.objects.create(workspace=workspace, agent=agent, keyword="YES2", reply="ok")
    response = admin_client.get(f"/admin/conversations/{model}/?q=a")
    assert response.status_code == 200
    assert b"<script>x</script>" not in response.content


@pytest.mark.parametrize("model", ["conversation", "agentanswer"])
def test_conversation_admin_lists_and_shows_a_thread(admin_client, workspace, model):
    from conversations import threads
    from conversations.models import AgentAnswer
    from tests.factories import ContactFactory

    contact = ContactFactory(workspace=workspace, first_name="<b>Ann</b>")
    conversation = threads.conversation_for(contact=contact, channel="sms")
    threads.turn_append(
        conversation=conversation, direction="in", author="contact", body="<script>y</script>"
    )
    answer = AgentAnswer.objects.create(
        workspace=workspace, conversation=conversation, generation=1, outcome="reply"
    )
    response = admin_client.get(f"/admin/conversations/{model}/?q=a")
    assert response.status_code == 200
    obj = conversation if model == "conversation" else answer
    page = admin_client.get(f"/admin/conversations/{model}/{obj.pk}/change/")
    assert page.status_code == 200
    assert b"<script>y</script>" not in page.content
