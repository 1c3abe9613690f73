import pytest
from django.db import DatabaseError

from contacts.models import Contact
from messaging.models import Message
from tests.factories import ContactFactory

from .factories import MessageFactory
from .helpers import WsgiClient, signed_post, status_params

URL = "/webhooks/twilio/status"
pytestmark = pytest.mark.django_db


@pytest.fixture(params=["view", "wsgi"])
def client(request, client):
    """Each test runs against the view (Django's test client) and against the WSGI application
    gunicorn serves, where the fast path answers the common callback before Django does."""
    return client if request.param == "view" else WsgiClient()


@pytest.fixture
def message(workspace, twilio_settings):
    return MessageFactory(workspace=workspace)


def test_status_delivered_updates_message(client, message):
    response = signed_post(client, URL, status_params(message.provider_message_id, "delivered"))
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.delivered_at is not None


def test_status_missing_signature_is_403_and_changes_nothing(client, message):
    response = client.post(URL, status_params(message.provider_message_id, "delivered"))
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "sent"


def test_status_forged_signature_is_403(client, message):
    params = status_params(message.provider_message_id, "delivered")
    response = signed_post(client, URL, params, token="not-the-auth-token")
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "sent"


def test_status_signature_over_other_params_is_403(client, message, twilio_settings):
    from twilio.request_validator import RequestValidator

    signed = status_params(message.provider_message_id, "sent")
    signature = RequestValidator(twilio_settings.TWILIO_AUTH_TOKEN).compute_signature(
        twilio_settings.PUBLIC_BASE_URL + URL, signed
    )
    tampered = {**signed, "MessageStatus": "failed"}
    response = client.post(URL, tampered, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "sent"


def test_status_never_moves_backwards(client, message):
    sid = message.provider_message_id
    assert signed_post(client, URL, status_params(sid, "delivered")).status_code == 200
    assert signed_post(client, URL, status_params(sid, "sent")).status_code == 200
    assert signed_post(client, URL, status_params(sid, "undelivered")).status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.failed_at is None


def test_status_replayed_callback_is_noop(client, message):
    params = status_params(message.provider_message_id, "delivered")
    signed_post(client, URL, params)
    message.refresh_from_db()
    first = message.delivered_at
    assert signed_post(client, URL, params).status_code == 200
    message.refresh_from_db()
    assert message.delivered_at == first


def test_status_read_after_delivered(client, message):
    sid = message.provider_message_id
    signed_post(client, URL, status_params(sid, "delivered"))
    signed_post(client, URL, status_params(sid, "read"))
    message.refresh_from_db()
    assert message.status == "read"


def test_status_unknown_sid_is_acknowledged(client, message, caplog):
    response = signed_post(client, URL, status_params("SM" + "f" * 32, "delivered"))
    assert response.status_code == 200
    assert "unknown sid" in caplog.text
    message.refresh_from_db()
    assert message.status == "sent"


def test_status_callback_before_sid_is_committed_finds_message_by_id(client, workspace):
    message = MessageFactory(workspace=workspace, status="sending", provider_message_id="")
    path = f"{URL}?m={message.pk}"
    response = signed_post(client, path, status_params("SM" + "a" * 32, "sent"))
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.provider_message_id == "SM" + "a" * 32


def test_status_id_in_url_does_not_steal_another_sid(client, message):
    other = MessageFactory(workspace=message.workspace)
    path = f"{URL}?m={other.pk}"
    signed_post(client, path, status_params("SM" + "b" * 32, "delivered"))
    other.refresh_from_db()
    assert other.status == "sent"


def test_status_malformed_is_400(client, twilio_settings):
    response = signed_post(client, URL, {"MessageSid": "SM1"})
    assert response.status_code == 400


def test_status_huge_body_is_413(client, message):
    params = status_params(message.provider_message_id, "delivered", Junk="x" * 70_000)
    response = signed_post(client, URL, params)
    assert response.status_code == 413
    message.refresh_from_db()
    assert message.status == "sent"


def test_status_get_is_405(client, twilio_settings):
    assert client.get(URL).status_code == 405


def test_status_database_down_is_503(client, message, monkeypatch):
    def broken(**kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr("messaging.webhooks.callback_apply", broken)
    monkeypatch.setattr("messaging.fastpath.statuses_forward", lambda statuses: broken())
    response = signed_post(client, URL, status_params(message.provider_message_id, "delivered"))
    assert response.status_code == 503


def test_status_21610_opts_contact_out_with_reason_message(client, message):
    params = status_params(message.provider_message_id, "failed", ErrorCode="21610")
    signed_post(client, URL, params)
    message.contact.refresh_from_db()
    assert message.contact.status == "opted_out"
    assert message.contact.opt_out_reason == "message"
    assert message.contact.events.filter(kind="opted_out", reason="message").exists()


def test_status_21211_marks_contact_invalid(client, message):
    signed_post(
        client, URL, status_params(message.provider_message_id, "failed", ErrorCode="21211")
    )
    message.contact.refresh_from_db()
    assert message.contact.opt_out_reason == "invalid_contact"


def test_status_repeated_carrier_failures_mark_bad_response(client, workspace, settings):
    settings.HERALD_BAD_RESPONSE_THRESHOLD = 3
    contact = ContactFactory(workspace=workspace)
    messages = [MessageFactory(workspace=workspace, contact=contact) for _ in range(3)]
    for index, message in enumerate(messages):
        params = status_params(message.provider_message_id, "undelivered", ErrorCode="30005")
        signed_post(client, URL, params)
        contact.refresh_from_db()
        expected = "opted_out" if index == 2 else "active"
        assert contact.status == expected
    assert contact.opt_out_reason == "bad_response"


def test_status_carrier_failure_streak_broken_by_delivery(client, workspace):
    contact = ContactFactory(workspace=workspace)
    first, second, third = (MessageFactory(workspace=workspace, contact=contact) for _ in range(3))
    signed_post(
        client, URL, status_params(first.provider_message_id, "undelivered", ErrorCode="30003")
    )
    signed_post(client, URL, status_params(second.provider_message_id, "delivered"))
    signed_post(
        client, URL, status_params(third.provider_message_id, "undelivered", ErrorCode="30003")
    )
    contact.refresh_from_db()
    assert contact.status == Contact.Status.ACTIVE


def test_call_completed_is_delivered(client, workspace):
    message = MessageFactory(
        workspace=workspace, channel="voice", provider_message_id="CA" + "1" * 32
    )
    params = {"CallSid": message.provider_message_id, "CallStatus": "completed", "To": "+1"}
    signed_post(client, URL, params)
    message.refresh_from_db()
    assert message.status == "delivered"


def test_call_busy_requeues_then_fails_after_retries(client, workspace):
    from campaigns.models import Campaign
    from tests.factories import ContactGroupFactory

    group = ContactGroupFactory(workspace=workspace)
    campaign = Campaign.objects.create(
        workspace=workspace, name="Calls", channel="voice", group=group, max_retries=1
    )
    message = MessageFactory(
        workspace=workspace, campaign=campaign, channel="voice", provider_message_id="CA" + "2" * 32
    )
    signed_post(client, URL, {"CallSid": message.provider_message_id, "CallStatus": "busy"})
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED
    assert message.provider_message_id == ""
    Message.objects.filter(pk=message.pk).update(
        status="sent", attempts=2, provider_message_id="CA" + "3" * 32
    )
    signed_post(client, URL, {"CallSid": "CA" + "3" * 32, "CallStatus": "no-answer"})
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.error_code == "no-answer"


def test_status_non_ascii_signature_is_403(client, message):
    params = status_params(message.provider_message_id, "delivered")
    response = client.post(URL, params, HTTP_X_TWILIO_SIGNATURE="é" * 28)
    assert response.status_code == 403
