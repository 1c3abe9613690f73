"""Every Twilio status means the same thing wherever we hear it: through the status webhook
(the view and the WSGI fast path) and through reconciliation (messaging/statuses.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from messaging.models import Message, Sender
from messaging.outbox import outbox_reconcile
from messaging.statuses import RANK, RETRY, TWILIO_CALL, TWILIO_MESSAGE, from_twilio
from tests.factories import ContactFactory

from .factories import MessageFactory, claim_for
from .helpers import WsgiClient, signed_post, status_params

S = Message.Status
CASES = [("sms", status) for status in TWILIO_MESSAGE] + [
    ("voice", status) for status in TWILIO_CALL
]
# What a message sent once, with retries left, ends as: RETRY calls again (queued).
ENDS_AS = {S.SENT: S.SENT, S.DELIVERED: S.DELIVERED, S.READ: S.READ, RETRY: S.QUEUED}


def test_message_and_call_maps_agree_on_the_statuses_they_share():
    for status in TWILIO_MESSAGE.keys() & TWILIO_CALL.keys():
        assert TWILIO_MESSAGE[status] == TWILIO_CALL[status], status
    for ours in [*TWILIO_MESSAGE.values(), *TWILIO_CALL.values()]:
        assert ours in RANK or ours == RETRY
    assert from_twilio(" Delivered ", call=False) == S.DELIVERED
    assert from_twilio("completed", call=False) is None  # a call's word, not a message's
    assert from_twilio("busy", call=True) == RETRY


@pytest.fixture
def sent_once(workspace, twilio_settings):
    """A factory of messages of a campaign with retries left, sent once, by channel."""
    campaign = Campaign.objects.create(
        workspace=workspace, name="Visits", max_retries=2, retry_interval=60
    )
    contact = ContactFactory(workspace=workspace, phone="+14155550123")

    def make(channel: str, **fields) -> Message:
        sender, _ = Sender.objects.get_or_create(
            workspace=workspace,
            channel=channel,
            address="+14155559999",
            defaults={"claim": claim_for(workspace, channel, "+14155559999")},
        )
        return MessageFactory(
            workspace=workspace,
            campaign=campaign,
            contact=contact,
            sender=sender,
            channel=channel,
            to_address=contact.phone,
            body="Your appointment is tomorrow",
            attempts=1,
            send_after=timezone.now() - timedelta(minutes=10),
            **fields,
        )

    return make


def _by_webhook(client, message: Message, channel: str, status: str) -> str:
    sid = message.provider_message_id
    if channel == "sms":
        params = status_params(sid, status)
    else:
        params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "CallStatus": status}
    assert signed_post(client, "/webhooks/twilio/status", params).status_code == 200
    message.refresh_from_db()
    return message.status


def _by_reconciliation(fake_twilio, message: Message, channel: str, status: str) -> str:
    kind = "Messages" if channel == "sms" else "Calls"
    fake_twilio.add(
        kind, to=message.to_address, from_=message.sender.address, status=status, body=message.body
    )
    Message.objects.filter(pk=message.pk).update(
        status=S.UNKNOWN, provider_message_id="", updated_at=timezone.now() - timedelta(minutes=5)
    )
    outbox_reconcile()
    message.refresh_from_db()
    return message.status


@pytest.mark.django_db
@pytest.mark.parametrize(("channel", "status"), CASES)
def test_every_twilio_status_means_the_same_by_webhook_and_by_reconciliation(
    client, fake_twilio, sent_once, channel, status
):
    ours = from_twilio(status, call=channel == "voice")
    expected = ENDS_AS.get(ours, ours)
    by_view = _by_webhook(client, sent_once(channel), channel, status)
    by_fast_path = _by_webhook(WsgiClient(), sent_once(channel), channel, status)
    by_reconciliation = _by_reconciliation(fake_twilio, sent_once(channel), channel, status)
    assert (by_view, by_fast_path, by_reconciliation) == (expected, expected, expected)


@pytest.mark.django_db
def test_a_status_twilio_adds_later_leaves_a_sent_message_sent(client, fake_twilio, sent_once):
    assert _by_webhook(client, sent_once("sms"), "sms", "receiving") == S.SENT
    assert _by_reconciliation(fake_twilio, sent_once("sms"), "sms", "receiving") == S.SENT
