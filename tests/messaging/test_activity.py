from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from contacts.services import contact_opt_out
from messaging.models import InboundMessage
from messaging.selectors import contact_activity, contact_metrics
from tests.factories import ContactFactory, ContactGroupFactory

from .factories import MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(workspace):
    """A contact with two campaign SMS (one delivered and answered), an email and a STOP."""
    contact = ContactFactory(workspace=workspace, first_name="Jane", last_name="Smith")
    group = ContactGroupFactory(workspace=workspace)
    reminders = Campaign.objects.create(
        workspace=workspace, name="Appointment Reminders", group=group
    )
    news = Campaign.objects.create(workspace=workspace, name="News", group=group, channel="email")
    t0 = timezone.now() - timedelta(days=2)
    first = MessageFactory(
        workspace=workspace,
        contact=contact,
        campaign=reminders,
        body="Hi Jane <3",
        status="delivered",
        sent_at=t0,
        replied_at=t0 + timedelta(minutes=2),
    )
    MessageFactory(
        workspace=workspace,
        contact=contact,
        campaign=news,
        channel="email",
        subject="News",
        body="Read this",
        status="sent",
        sent_at=t0 + timedelta(hours=1),
    )
    MessageFactory(
        workspace=workspace,
        contact=contact,
        campaign=reminders,
        body="Second",
        status="undelivered",
        sent_at=t0 + timedelta(hours=2),
        last_error="Carrier said no",
    )
    MessageFactory(workspace=workspace, contact=contact, status="queued", sent_at=None)
    InboundMessage.objects.create(
        workspace=workspace,
        contact=contact,
        from_address=contact.phone,
        body="CONFIRM",
        provider_message_id="SMin1",
        in_reply_to=first,
        response_seconds=120,
        received_at=t0 + timedelta(minutes=2),
    )
    contact_opt_out(contact=contact, reason="message", detail="Texted STOP")
    return contact


def test_contact_activity_merges_sources_newest_first(workspace, history):
    page = contact_activity(workspace=workspace, contact_id=history.pk)
    assert [i.type for i in page.items] == [
        "opted_out",
        "sms_sent",
        "email_sent",
        "sms_received",
        "sms_sent",
    ]
    assert page.items[1].status == "undelivered"
    assert page.items[1].error == "Carrier said no"
    assert page.items[3].campaign == "Appointment Reminders"


def test_contact_activity_paginates_oldest_first(workspace, history):
    first = contact_activity(
        workspace=workspace, contact_id=history.pk, per_page=2, newest_first=False
    )
    second = contact_activity(
        workspace=workspace, contact_id=history.pk, page=3, per_page=2, newest_first=False
    )
    assert [i.type for i in first.items] == ["sms_sent", "sms_received"]
    assert first.has_next and not first.has_previous
    assert [i.type for i in second.items] == ["opted_out"]
    assert not second.has_next


def test_contact_metrics(workspace, history):
    metrics = contact_metrics(workspace=workspace, contact_id=history.pk)
    assert metrics.total_messages_sent == 3
    assert metrics.total_campaigns == 2
    assert metrics.total_replies == 1
    assert metrics.reachability == 33.3
    assert metrics.response_rate == 33.3
    assert metrics.average_response_display == "2m"


def test_contact_metrics_other_workspace_sees_nothing(other_workspace, history):
    metrics = contact_metrics(workspace=other_workspace, contact_id=history.pk)
    assert metrics.total_messages_sent == 0
    assert contact_activity(workspace=other_workspace, contact_id=history.pk).items == []


def test_activity_api_shape(api_client, history):
    response = api_client.get(f"/api/v1/campaigns/contacts/{history.pk}/activity")
    assert response.status_code == 200
    data = response.json()
    assert data["contact_id"] == history.pk
    assert data["name"] == "Jane Smith"
    assert (data["total_campaigns"], data["total_messages_sent"], data["total_replies"]) == (
        2,
        3,
        1,
    )
    assert data["last_contacted"] is not None
    first, reply = data["activity"][:2]
    assert first["type"] == "sms_sent"
    assert first["campaign"] == "Appointment Reminders"
    assert first["message"] == "Hi Jane <3"
    assert first["status"] == "delivered"
    assert (reply["type"], reply["message"]) == ("sms_received", "CONFIRM")
    assert data["activity"][-1]["type"] == "opted_out"


def test_activity_api_other_workspace_contact_is_404(api_client, other_workspace):
    stranger = ContactFactory(workspace=other_workspace)
    response = api_client.get(f"/api/v1/campaigns/contacts/{stranger.pk}/activity")
    assert response.status_code == 404


def test_activity_api_requires_key(client, history):
    assert client.get(f"/api/v1/campaigns/contacts/{history.pk}/activity").status_code == 401


def test_contact_page_shows_activity_escaped(client_logged_in, history):
    response = client_logged_in.get(f"/contacts/{history.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Hi Jane &lt;3" in html and "Hi Jane <3" not in html
    assert "Reply received" in html and "CONFIRM" in html
    assert "Appointment Reminders" in html
    assert "33.3%" in html


def test_activity_panel_htmx_page(client_logged_in, history):
    url = f"/messaging/contacts/{history.pk}/activity/?page=1"
    response = client_logged_in.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="contact-activity")
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="contact-activity">')
    plain = client_logged_in.get(url)
    assert plain.status_code == 302
    assert plain["Location"] == f"/contacts/{history.pk}/?activity_page=1#activity"


def test_activity_panel_other_workspace_is_404(client_logged_in, other_workspace):
    stranger = ContactFactory(workspace=other_workspace)
    url = f"/messaging/contacts/{stranger.pk}/activity/"
    assert client_logged_in.get(url, HTTP_HX_REQUEST="true").status_code == 404


def test_activity_panel_requires_login(client, history):
    response = client.get(f"/messaging/contacts/{history.pk}/activity/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_activity_api_in_openapi_schema(api_client):
    schema = api_client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/campaigns/contacts/{contact_id}/activity"]["get"]
    assert "200" in operation["responses"]


def test_activity_api_bad_page_is_422(api_client, history):
    response = api_client.get(f"/api/v1/campaigns/contacts/{history.pk}/activity?page=0")
    assert response.status_code == 422
