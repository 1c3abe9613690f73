# ruff: noqa: F811 (pytest fixtures imported from test_outbox are arguments here)
"""Several provider calls in flight per send task (#12, throughput): the calls overlap, and
every guarantee of the one-at-a-time loop holds: each call is fenced right before it, a lost
lease stops the calls not yet made, a sender's pace and back-off hold, each outcome is
recorded once."""

import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from campaigns import fanout, lifecycle
from campaigns.lifecycle import campaign_launch
from messaging import outbox, sending
from messaging.backends import Backend, SendResult, reset_backends
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group, make_sender

from .test_outbox import scripted  # noqa: F401 (the recording backend fixture)

pytestmark = pytest.mark.django_db
S = Message.Status


class GatheringBackend(Backend):
    """A provider that touches no database: each call waits (up to 10 s) until `gather`
    calls have been in flight at once, so overlap shows without depending on timing."""

    concurrent = True
    gather = 1
    lock = threading.Condition()
    in_flight = max_in_flight = 0
    calls: list[int] = []

    def send(self, message):
        cls = GatheringBackend
        with cls.lock:
            cls.calls.append(message.id)
            cls.in_flight += 1
            cls.max_in_flight = max(cls.max_in_flight, cls.in_flight)
            cls.lock.notify_all()
            if not cls.lock.wait_for(lambda: cls.max_in_flight >= cls.gather, timeout=10):
                cls.gather = 0  # they never overlapped: the others need not wait too
        with cls.lock:
            cls.in_flight -= 1
        return SendResult(provider_message_id=f"p-{message.id}", status="sent")


@pytest.fixture
def gathering(settings):
    settings.HERALD_SMS_BACKEND = "tests.messaging.test_concurrent_sends.GatheringBackend"
    reset_backends()
    GatheringBackend.gather, GatheringBackend.calls = 1, []
    GatheringBackend.in_flight = GatheringBackend.max_in_flight = 0
    yield GatheringBackend
    reset_backends()


def _claimed(workspace, n: int, **campaign_fields) -> list[int]:
    campaign = make_campaign(workspace, make_group(workspace, n), **campaign_fields)
    campaign_launch(campaign=campaign)
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    return outbox.outbox_claim(limit=100)


def test_a_batch_keeps_up_to_the_concurrency_in_flight(workspace, gathering, settings):
    settings.HERALD_SEND_CONCURRENCY = 4
    gathering.gather = 4
    ids = _claimed(workspace, 10)
    assert sending.outbox_send(message_ids=ids) == {"sent": 10}
    assert gathering.max_in_flight == 4  # as many as allowed, never more
    assert sorted(gathering.calls) == sorted(ids)  # each called once
    rows = Message.objects.filter(id__in=ids)
    assert {(m.status, m.provider_message_id) for m in rows} == {(S.SENT, f"p-{i}") for i in ids}
    assert not rows.filter(lease_expires_at__isnull=False).exists()


def test_the_fake_twilio_sees_the_calls_overlap_and_each_message_once(
    workspace, fake_twilio, settings
):
    settings.HERALD_SEND_CONCURRENCY = 5
    fake_twilio.state.gather = 5
    sender = make_sender(workspace, rate=0.0, address="+14155559999")
    ids = _claimed(workspace, 12, sender=sender)
    assert sending.outbox_send(message_ids=ids) == {"sent": 12}
    assert fake_twilio.state.max_in_flight == 5
    created = [
        int(parse_qs(urlsplit(m["_status_callback"]).query)["m"][0])
        for m in fake_twilio.messages.values()
    ]
    assert sorted(created) == sorted(ids)
    sids = set(Message.objects.filter(id__in=ids).values_list("provider_message_id", flat=True))
    assert sids == set(fake_twilio.messages)


def test_each_call_follows_its_own_fence_and_a_lost_lease_stops_the_rest(
    workspace, gathering, settings, monkeypatch
):
    """The sweeper takes the batch after the first four calls started (the worker stalled
    past its lease): the next fence fails, no call is made after it, and the answers of the
    four calls are still recorded (their provider ids; unknown when the sweeper got there
    first, which reconciliation then settles without sending again)."""
    settings.HERALD_SEND_CONCURRENCY = 4
    ids = _claimed(workspace, 10)
    fenced: list[int] = []
    real_fence = sending._fence

    def fence(message_ids, token):
        if fenced:
            later = timezone.now() + timedelta(seconds=settings.HERALD_LEASE_SECONDS + 5)
            outbox.outbox_sweep(now=later)
        ours = real_fence(message_ids, token)
        assert not ours & set(gathering.calls)  # the fence comes before the call
        fenced.extend(ours)
        return ours

    monkeypatch.setattr(sending, "_fence", fence)
    sending.outbox_send(message_ids=ids)
    assert sorted(gathering.calls) == sorted(fenced) == sorted(ids[:4])
    rows = {m.id: m for m in Message.objects.filter(id__in=ids)}
    assert {rows[i].provider_message_id for i in ids[:4]} == {f"p-{i}" for i in ids[:4]}
    assert {rows[i].status for i in ids[:4]} <= {S.SENT, S.UNKNOWN}
    assert {(rows[i].status, rows[i].provider_message_id) for i in ids[4:]} == {(S.UNKNOWN, "")}


def test_a_limited_sender_is_paced_before_each_fence(workspace, gathering, settings, monkeypatch):
    """Calls in flight at once do not speed a sender past its rate: each fence waits for the
    sender's next slot (a fake clock: the test does not time anything)."""
    settings.HERALD_SEND_CONCURRENCY = 8
    clock = {"now": timezone.now()}
    monkeypatch.setattr(sending, "_now", lambda: clock["now"])

    def sleep(seconds):
        clock["now"] += timedelta(seconds=seconds)

    monkeypatch.setattr(sending.time_module, "sleep", sleep)
    fenced_at = []
    real_fence = sending._fence

    def fence(message_ids, token):
        assert len(message_ids) == 1  # a limited sender's call starts alone, at its slot
        fenced_at.append(clock["now"])
        return real_fence(message_ids, token)

    monkeypatch.setattr(sending, "_fence", fence)
    sender = make_sender(workspace, rate=4.0, address="+14155559999")
    ids = _claimed(workspace, 6, sender=sender)
    assert sending.outbox_send(message_ids=ids) == {"sent": 6}
    gaps = [b - a for a, b in zip(fenced_at, fenced_at[1:], strict=False)]
    assert len(fenced_at) == 6 and min(gaps) >= timedelta(seconds=0.25)


def test_a_429_among_calls_in_flight_fails_nothing_and_sends_each_once(
    workspace, fake_twilio, settings
):
    settings.HERALD_SEND_CONCURRENCY = 4
    fake_twilio.state.gather = 4
    fake_twilio.fail_next(429, retry_after=30)
    sender = make_sender(workspace, rate=0.0, address="+14155559999")
    ids = _claimed(workspace, 8, sender=sender)
    counts = sending.outbox_send(message_ids=ids)
    rows = Message.objects.filter(id__in=ids)
    sent = {m.id for m in rows if m.status == S.SENT}
    # The calls made beside the 429 are sent; the 429'd message and the sender's messages
    # whose calls were not made yet wait for the back-off, without using an attempt.
    assert counts == {"sent": len(sent)} and 3 <= len(sent) < 8
    waiting = rows.exclude(id__in=sent)
    assert {(m.status, m.attempts) for m in waiting} == {(S.QUEUED, 0)}
    assert all(m.send_after >= timezone.now() + timedelta(seconds=20) for m in waiting)
    created = [
        int(parse_qs(urlsplit(m["_status_callback"]).query)["m"][0])
        for m in fake_twilio.messages.values()
    ]
    assert sorted(created) == sorted(sent)  # each sent one created once, nothing else


def test_an_account_error_among_calls_in_flight_pauses_and_fails_nothing(
    workspace, fake_twilio, settings
):
    """Every call in flight meets the wrong credentials: each goes back to the queue
    unfailed, without using an attempt, and the rest of the batch makes no call."""
    from messaging.twilio_client import _client

    settings.HERALD_SEND_CONCURRENCY = 3
    fake_twilio.state.gather = 3
    sender = make_sender(workspace, rate=0.0, address="+14155559999")
    ids = _claimed(workspace, 8, sender=sender)
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    _client.cache_clear()
    assert sending.outbox_send(message_ids=ids) == {}
    assert len(fake_twilio.creates()) == 3
    rows = Message.objects.filter(id__in=ids)
    assert {(m.status, m.attempts) for m in rows} == {(S.QUEUED, 0)}
    campaign = rows[0].campaign
    assert campaign.state == "paused" and "20003" in campaign.pause_reason


def test_a_call_made_on_the_loop_costs_one_statement_its_fence(workspace, settings):
    """The console's calls are made one at a time on the loop's thread, each right after its
    own fence: the fence is one statement (BEGIN, SET LOCAL, UPDATE and COMMIT were four
    round trips, most of such a send's CPU), and nothing else is paid per message."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.HERALD_SMS_BACKEND = "console"
    reset_backends()
    ids = _claimed(workspace, 30)
    with CaptureQueriesContext(connection) as few:
        assert sending.outbox_send(message_ids=ids[:5]) == {"delivered": 5}
    with CaptureQueriesContext(connection) as many:
        assert sending.outbox_send(message_ids=ids[5:]) == {"delivered": 25}
    # A message: its fence (and on SQLite its outcome's own UPDATE; one for all on PostgreSQL)
    assert len(many) - len(few) == 20 * (1 if connection.vendor == "postgresql" else 2)
    fences = [q["sql"] for q in many.captured_queries if "lease_expires_at" in q["sql"]]
    assert not any("synchronous_commit = off" in sql for sql in fences)


@pytest.mark.django_db(transaction=True)
def test_the_fence_commits_without_waiting_for_the_flush_and_only_itself(workspace):
    """On PostgreSQL the fence's commit does not wait for the WAL flush, and only its own:
    the connection's setting is untouched for what comes after it (the outcomes)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    ids = _claimed(workspace, 3)
    assert sending.outbox_send(message_ids=ids) == {"delivered": 3}
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
