"""The Twilio backends driven through the real `twilio` client against the fake Twilio."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from messaging.backends import PermanentError, RetryableError, UnknownOutcome, get_backend
from messaging.models import Message
from messaging.outbox import outbox_reconcile
from messaging.sending import outbox_send
from tests.conversations.factories import AgentFactory
from tests.factories import ContactFactory, ContactGroupFactory

from .factories import MessageFactory, SenderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(workspace):
    contact = ContactFactory(workspace=workspace, phone="+14155550123")
    sender = SenderFactory(workspace=workspace, address="+14155559999", rate_limit_per_second=0)
    return MessageFactory(
        workspace=workspace,
        contact=contact,
        sender=sender,
        to_address=contact.phone,
        body="Hi Ann, your appointment is tomorrow",
        status=Message.Status.QUEUED,
        attempts=0,
        provider_message_id="",
        sent_at=None,
        send_after=timezone.now() - timedelta(seconds=1),
    )


def test_sms_send_posts_message_with_status_callback(fake_twilio, queued):
    result = get_backend("sms").send(queued)
    (request,) = fake_twilio.creates("Messages")
    assert request.param("To") == "+14155550123"
    assert request.param("From") == "+14155559999"
    assert request.param("Body") == "Hi Ann, your appointment is tomorrow"
    assert request.param("StatusCallback") == (
        f"https://herald.example.com/webhooks/twilio/status?m={queued.pk}"
    )
    assert result.provider_message_id in fake_twilio.messages
    assert result.status == "sent"


def test_sms_send_logs_no_request_lines_nor_the_number(fake_twilio, queued, caplog):
    get_backend("sms").send(queued)
    assert [r for r in caplog.records if r.name.startswith("twilio")] == []
    assert queued.to_address not in caplog.text


def test_sms_outbox_send_records_sid_and_sent(fake_twilio, queued):
    counts = outbox_send(message_ids=[queued.pk])
    queued.refresh_from_db()
    assert counts == {"sent": 1}
    assert queued.status == "sent"
    assert queued.provider_message_id.startswith("SM")
    assert queued.provider_message_id in fake_twilio.messages


def test_sms_429_is_retryable_and_nothing_was_created(fake_twilio, queued):
    fake_twilio.fail_next(429)
    with pytest.raises(RetryableError):
        get_backend("sms").send(queued)
    assert fake_twilio.messages == {}


def test_sms_500_after_create_is_unknown_then_reconciled_not_resent(fake_twilio, queued):
    fake_twilio.fail_next(500, after_create=True)
    outbox_send(message_ids=[queued.pk])
    queued.refresh_from_db()
    assert queued.status == "unknown"
    (sid,) = fake_twilio.messages
    assert outbox_reconcile() == 1
    queued.refresh_from_db()
    assert queued.status == "sent"
    assert queued.provider_message_id == sid
    assert len(fake_twilio.creates("Messages")) == 1


def _age(message, minutes=3):
    Message.objects.filter(pk=message.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )
    message.refresh_from_db()


def test_sms_500_without_create_waits_then_reconciles_as_not_found(fake_twilio, queued):
    fake_twilio.fail_next(500)
    outbox_send(message_ids=[queued.pk])
    outbox_reconcile()
    queued.refresh_from_db()
    assert queued.status == "unknown"  # Twilio's list may lag: not concluded yet
    _age(queued)
    outbox_reconcile()
    queued.refresh_from_db()
    assert queued.status == "queued"
    assert len(fake_twilio.creates("Messages")) == 1


def test_sms_still_queued_at_twilio_is_found_however_long_unknown(fake_twilio, queued):
    """Twilio sets DateSent only when a message leaves its queue: reconciliation must find a
    message still queued there by its creation, or it would be judged never sent, and sent
    again (#12, defect 8)."""
    fake_twilio.fail_next(500, after_create=True)
    outbox_send(message_ids=[queued.pk])
    (sid,) = fake_twilio.messages
    assert fake_twilio.messages[sid]["date_sent"] is None
    queued.refresh_from_db()
    _age(queued, minutes=30)  # long past the settle time
    assert outbox_reconcile() == 1
    queued.refresh_from_db()
    assert (queued.status, queued.provider_message_id) == ("sent", sid)
    assert len(fake_twilio.creates("Messages")) == 1


def test_sms_list_error_leaves_the_message_unknown_and_reconciles_the_others(
    fake_twilio, queued, workspace
):
    """A 500 on GET Messages.json raises the bare TwilioException; it must not escape
    reconciliation (it stopped the tick for every workspace: #12, defect 3)."""
    other = MessageFactory(
        workspace=workspace,
        sender=queued.sender,
        to_address="+14155550124",
        body="Hello",
        status=Message.Status.QUEUED,
        provider_message_id="",
        send_after=timezone.now() - timedelta(seconds=1),
    )
    for message in (queued, other):
        fake_twilio.fail_next(500, after_create=True)
        outbox_send(message_ids=[message.pk])
    fake_twilio.fail_next_list(500)
    assert outbox_reconcile() == 1  # the first list failed, the second one answered
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert sorted(statuses.values()) == ["sent", "unknown"]
    assert outbox_reconcile() == 1  # asked again next time
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_voice_list_error_leaves_the_call_unknown(fake_twilio, queued):
    Message.objects.filter(pk=queued.pk).update(channel="voice", status="unknown")
    queued.refresh_from_db()
    fake_twilio.fail_next_list(503)
    result = get_backend("voice").reconcile(queued)
    assert result.status == "unknown"


def test_sms_reconcile_ignores_other_messages_sids(fake_twilio, queued, workspace):
    fake_twilio.fail_next(500, after_create=True)
    outbox_send(message_ids=[queued.pk])
    (sid,) = fake_twilio.messages
    MessageFactory(workspace=workspace, provider_message_id=sid)
    queued.refresh_from_db()
    _age(queued)
    assert get_backend("sms").reconcile(queued).status == "not_found"


def test_sms_timeout_is_unknown(fake_twilio, queued):
    fake_twilio.fail_next(201, hang_seconds=3.5, after_create=True)
    with pytest.raises(UnknownOutcome):
        get_backend("sms").send(queued)


def test_sms_unreachable_twilio_is_retryable(fake_twilio, queued, settings):
    from messaging.twilio_client import _client

    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # discard port: connection refused
    _client.cache_clear()
    with pytest.raises(RetryableError):
        get_backend("sms").send(queued)


def test_sms_21610_fails_and_opts_contact_out_with_reason_message(fake_twilio, queued):
    fake_twilio.fail_next(400, 21610, message="Attempt to send to unsubscribed recipient")
    counts = outbox_send(message_ids=[queued.pk])
    queued.refresh_from_db()
    queued.contact.refresh_from_db()
    assert counts == {"failed": 1}
    assert queued.error_code == "21610"
    assert queued.contact.opt_out_reason == "message"


@pytest.mark.parametrize("code", [21211, 21614])
def test_sms_invalid_number_marks_contact_invalid(fake_twilio, queued, code):
    fake_twilio.fail_next(400, code)
    # The call (on a send thread) only says so; the engine opts the contact out.
    assert outbox_send(message_ids=[queued.pk]) == {"failed": 1}
    queued.contact.refresh_from_db()
    assert queued.contact.opt_out_reason == "invalid_contact"


def test_sms_other_4xx_is_permanent_and_contact_stays_active(fake_twilio, queued):
    fake_twilio.fail_next(400, 21606)
    counts = outbox_send(message_ids=[queued.pk])
    assert counts == {"failed": 1}
    queued.contact.refresh_from_db()
    assert queued.contact.status == "active"


def test_voice_send_says_opening_message_with_time_limit(fake_twilio, workspace, queued):
    agent = AgentFactory(workspace=workspace, voice="Polly.Amy", max_call_seconds=90)
    group = ContactGroupFactory(workspace=workspace)
    campaign = Campaign.objects.create(
        workspace=workspace, name="Calls", channel="voice", group=group, agent=agent
    )
    Message.objects.filter(pk=queued.pk).update(
        channel="voice", campaign=campaign, body="Hello <Ann> & co"
    )
    queued.refresh_from_db()
    result = get_backend("voice").send(queued)
    (request,) = fake_twilio.creates("Calls")
    assert result.provider_message_id.startswith("CA")
    assert request.param("TimeLimit") == "90"
    assert '<Say voice="Polly.Amy">Hello &lt;Ann&gt; &amp; co</Say>' in request.param("Twiml")
    assert request.params["StatusCallbackEvent"] == [
        "initiated",
        "ringing",
        "answered",
        "completed",
    ]
    assert request.param("StatusCallback").endswith(f"/webhooks/twilio/status?m={queued.pk}")


def test_voice_reconcile_adopts_call(fake_twilio, queued):
    Message.objects.filter(pk=queued.pk).update(channel="voice")
    queued.refresh_from_db()
    fake_twilio.fail_next(503, after_create=True)
    with pytest.raises(UnknownOutcome):
        get_backend("voice").send(queued)
    (sid,) = fake_twilio.calls
    result = get_backend("voice").reconcile(queued)
    assert (result.status, result.provider_message_id) == ("sent", sid)


def test_sms_wrong_credentials_is_permanent(fake_twilio, queued, settings):
    from messaging.twilio_client import _client

    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    _client.cache_clear()
    with pytest.raises(PermanentError, match="20003"):
        get_backend("sms").send(queued)
    assert fake_twilio.messages == {}


def test_sms_without_sender_is_permanent(fake_twilio, queued):
    Message.objects.filter(pk=queued.pk).update(sender=None)
    queued.refresh_from_db()
    with pytest.raises(PermanentError, match="no SMS sender"):
        get_backend("sms").send(queued)
    assert fake_twilio.creates("Messages") == []


def test_the_proxy_environment_is_read_once_per_host_and_still_used(monkeypatch):
    """requests reads the proxy variables for every request (a fifth of a call's CPU); the
    client reads them once per host, and a proxy set in the environment is still used."""
    import requests

    from messaging.twilio_client import HeraldHttpClient

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    reads = []
    real = requests.sessions.get_environ_proxies

    def counted(*args, **kwargs):
        reads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    session = HeraldHttpClient().session
    for _ in range(3):
        merged = session.merge_environment_settings(
            "https://api.twilio.com/2010-04-01/Accounts.json", {}, None, None, None
        )
    assert merged["proxies"]["https"] == "http://proxy.example:3128"
    assert len(reads) == 1
