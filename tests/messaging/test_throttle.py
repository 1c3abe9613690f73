"""One pace per sender shared by every process, and providers that say "not now" (#12, 2 and 4).

The pace lives in the database, so two calls here stand for two worker processes.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import fanout, lifecycle
from campaigns.lifecycle import campaign_launch
from messaging import outbox
from messaging.models import Message, SenderPace
from messaging.sending import outbox_send
from messaging.throttle import sender_back_off, sender_reserve
from tests.campaigns.helpers import make_campaign, make_group, make_sender

pytestmark = pytest.mark.django_db
S = Message.Status


def test_a_limited_sender_gets_slots_one_interval_apart_whoever_asks(workspace):
    sender = make_sender(workspace, rate=2.0)
    now = timezone.now()
    far = now + timedelta(seconds=60)
    slots = [sender_reserve(sender.id, 2.0, now=now, deadline=far) for _ in range(3)]
    assert slots == [
        (True, now),
        (True, now + timedelta(seconds=0.5)),
        (True, now + timedelta(seconds=1)),
    ]


def test_a_slot_later_than_the_deadline_is_not_reserved(workspace):
    sender = make_sender(workspace, rate=1.0)
    now = timezone.now()
    assert sender_reserve(sender.id, 1.0, now=now, deadline=now) == (True, now)
    later = now + timedelta(seconds=1)
    assert sender_reserve(sender.id, 1.0, now=now, deadline=now) == (False, later)
    assert sender_reserve(sender.id, 1.0, now=now, deadline=later) == (True, later)


def test_an_idle_sender_sends_at_once_and_a_backed_off_one_waits(workspace):
    sender = make_sender(workspace, rate=0.0)
    now = timezone.now()
    assert sender_reserve(sender.id, 0.0, now=now, deadline=now) == (True, now)
    assert not SenderPace.objects.exists()  # no limit: nothing written per send
    until = sender_back_off(sender.id, now=now, seconds=30)
    assert until == now + timedelta(seconds=30)
    assert sender_reserve(sender.id, 0.0, now=now, deadline=now) == (False, until)
    # A shorter back-off never shortens a longer one.
    assert sender_back_off(sender.id, now=now, seconds=5) == now + timedelta(seconds=5)
    assert SenderPace.objects.get().next_at == until


def _sms_campaign(workspace, n: int, *, rate: float = 0.0, max_retries: int = 0):
    sender = make_sender(workspace, rate=rate, address="+14155559999")
    campaign = make_campaign(workspace, make_group(workspace, n), sender=sender)
    campaign.max_retries = max_retries
    campaign.save()
    campaign_launch(campaign=campaign)
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    return campaign


def test_a_429_uses_no_attempt_backs_the_sender_off_and_fails_nothing(
    workspace, fake_twilio, settings
):
    settings.HERALD_SEND_CONCURRENCY = 1  # one call at a time: none in flight beside the 429
    campaign = _sms_campaign(workspace, 3, max_retries=0)
    fake_twilio.fail_next(429, retry_after=30)
    before = timezone.now()
    counts = outbox_send(message_ids=outbox.outbox_claim(limit=10))
    assert counts == {}  # the 429 stopped the sender's whole batch: one provider call
    assert len(fake_twilio.creates()) == 1 and fake_twilio.messages == {}
    rows = Message.objects.filter(campaign=campaign)
    assert {(m.status, m.attempts) for m in rows} == {(S.QUEUED, 0)}
    assert all(m.send_after >= before + timedelta(seconds=30) for m in rows)
    assert {m.error_code for m in rows} == {"20429"}
    assert SenderPace.objects.get().next_at >= before + timedelta(seconds=30)
    # Nothing is claimable before the back-off ends; after it, each is sent once.
    assert outbox.outbox_claim(limit=10) == []
    rows.update(send_after=timezone.now())
    SenderPace.objects.update(next_at=timezone.now())
    assert outbox_send(message_ids=outbox.outbox_claim(limit=10)) == {"sent": 3}
    assert len(fake_twilio.messages) == 3


def test_429s_again_and_again_never_fail_a_message(workspace, fake_twilio):
    campaign = _sms_campaign(workspace, 1, max_retries=0)
    message = Message.objects.get(campaign=campaign)
    for _ in range(5):
        fake_twilio.fail_next(429)
        outbox_send(message_ids=outbox.outbox_claim(limit=10))
        message.refresh_from_db()
        assert (message.status, message.attempts) == (S.QUEUED, 0)
        Message.objects.filter(pk=message.pk).update(send_after=timezone.now())
        SenderPace.objects.update(next_at=timezone.now())
    outbox_send(message_ids=outbox.outbox_claim(limit=10))
    message.refresh_from_db()
    assert (message.status, message.attempts) == (S.SENT, 1)


def test_twilio_unreachable_uses_no_attempt(workspace, fake_twilio, settings):
    from messaging.twilio_client import _client

    campaign = _sms_campaign(workspace, 1, max_retries=0)
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # discard port: connection refused
    _client.cache_clear()
    outbox_send(message_ids=outbox.outbox_claim(limit=10))
    message = Message.objects.get(campaign=campaign)
    assert (message.status, message.attempts, message.error_code) == (
        S.QUEUED,
        0,
        "connect_error",
    )


def test_a_sender_slower_than_the_lease_puts_its_messages_back(workspace, fake_twilio, settings):
    settings.HERALD_LEASE_SECONDS = 3  # a slot 10 s away is past what the batch may wait
    campaign = _sms_campaign(workspace, 3, rate=0.1)
    ids = list(Message.objects.filter(campaign=campaign).values_list("id", flat=True))
    assert outbox_send(message_ids=ids) == {"sent": 1}  # at once; the next slot is 10 s away
    waiting = Message.objects.filter(campaign=campaign, status=S.QUEUED)
    assert {m.attempts for m in waiting} == {0} and waiting.count() == 2
    assert min(m.send_after for m in waiting) >= timezone.now() + timedelta(seconds=8)


def test_wrong_credentials_pause_the_campaign_with_the_reason_and_fail_nothing(
    workspace, fake_twilio, settings
):
    """An account's error (20003) would meet every message: the campaign pauses saying why,
    its messages wait unfailed, and resuming after the fix sends each once (#12 defect 6)."""
    from campaigns import tick as engine
    from campaigns.lifecycle import campaign_resume
    from campaigns.models import Campaign
    from messaging.twilio_client import _client
    from tests.fakes.twilio import AUTH_TOKEN

    settings.HERALD_SEND_CONCURRENCY = 1  # one call at a time: the first stops the rest
    campaign = _sms_campaign(workspace, 3, max_retries=0)
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    _client.cache_clear()
    engine.tick(send_inline=True)
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.PAUSED
    assert "20003" in campaign.pause_reason
    rows = Message.objects.filter(campaign=campaign)
    assert {(m.status, m.attempts) for m in rows} == {(S.QUEUED, 0)}
    assert len(fake_twilio.creates()) == 1  # the rest of the batch made no provider call
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    _client.cache_clear()
    campaign_resume(campaign=campaign)
    engine.tick(send_inline=True)
    assert len(fake_twilio.messages) == 3
    assert set(rows.values_list("status", flat=True)) == {S.SENT}
