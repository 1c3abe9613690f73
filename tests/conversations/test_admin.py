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
