import pytest

from messaging.models import InboundMessage

from .factories import MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ["sender", "message", "inboundmessage"])
def test_messaging_admin_lists(admin_client, workspace, model):
    message = MessageFactory(workspace=workspace, body="<script>x</script>")
    InboundMessage.objects.create(
        workspace=workspace, from_address="+1", body="hi", provider_message_id="SMa"
    )
    response = admin_client.get(f"/admin/messaging/{model}/?q=a")
    assert response.status_code == 200
    detail = admin_client.get(f"/admin/messaging/message/{message.pk}/change/")
    assert b"<script>x</script>" not in detail.content
