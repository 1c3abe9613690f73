"""Sender rate limits and 429 storms with real prefork workers and the fake Twilio (#12, 2 and 4).

The workers send SMS through the real twilio client to the fake Twilio running in this test
process, which records when each create arrived and which message it was for (the status
callback's ?m=). The test process plays celery beat (tests/integration/test_outbox_reliability).
"""

import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest

from campaigns.lifecycle import campaign_launch
from campaigns.models import Campaign
from contacts.models import Contact, ContactGroup, GroupMembership
from messaging.models import Message
from tests.campaigns.helpers import make_sender
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

from .test_outbox_reliability import TIMEOUT, _completed, _drive

pytestmark = [pytest.mark.integration]


@pytest.fixture
def fake():
    server = FakeTwilio().start()
    yield server
    server.stop()


def _env(fake: FakeTwilio, **extra) -> dict:
    env = {
        "HERALD_SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": fake.base_url,
        "TWILIO_TIMEOUT_SECONDS": "10",
        "PUBLIC_BASE_URL": "https://herald.example.com",
        "HERALD_LEASE_SECONDS": "6",
        "HERALD_SEND_LOOP_SECONDS": "5",
        "HERALD_SEND_BATCH": "50",
        "HERALD_SEND_TASKS": "4",
        "HERALD_TICK_SECONDS": "0.4",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _campaign(workspace, n: int, *, rate: float) -> Campaign:
    sender = make_sender(workspace, address="+14155559999", rate=rate)
    group = ContactGroup.objects.create(workspace=workspace, name=f"Limited {n}")
    contacts = Contact.objects.bulk_create(
        Contact(workspace=workspace, first_name=f"C{i}", phone=f"+1415555{i:04d}") for i in range(n)
    )
    GroupMembership.objects.bulk_create(GroupMembership(group=group, contact=c) for c in contacts)
    return Campaign.objects.create(
        workspace=workspace,
        group=group,
        sender=sender,
        name="Limited",
        channel="sms",
        message_template="Hi {{first_name}}",
        timezone="UTC",
        window_start_hour=0,
        window_end_hour=24,
        max_retries=0,  # a rate-limited message must never need a retry
    )


def _created_ids(fake: FakeTwilio) -> Counter:
    """Message id → how many times Twilio created it (accepted creates only)."""
    ids = Counter()
    for resource in list(fake.messages.values()):
        query = parse_qs(urlsplit(resource["_status_callback"]).query)
        ids[int(query["m"][0])] += 1
    return ids


def _assert_each_sent_once(fake, campaign, n):
    created = _created_ids(fake)
    ids = set(Message.objects.filter(campaign=campaign).values_list("id", flat=True))
    assert len(ids) == n
    assert set(created) == ids, f"{len(ids - set(created))} never sent"
    assert max(created.values()) == 1, "sent twice"
    statuses = Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == {"sent": n}


def test_a_senders_rate_holds_across_four_processes(celery_worker, workspace, fake):
    rate, n = 8, 120
    campaign = _campaign(workspace, n, rate=rate)
    # The beat's default 2 s tick: each claim may hand out rate x 2 s of the sender's messages.
    env = _env(fake, HERALD_TICK_SECONDS=2)
    celery_worker(env=env, concurrency=2)
    celery_worker(env=env, concurrency=2)
    campaign_launch(campaign=campaign)
    _drive(_completed(campaign), timeout=TIMEOUT)
    _assert_each_sent_once(fake, campaign, n)
    times = sorted(r.at for r in fake.creates())
    per_second = Counter(int(t) for t in times)
    mean = (len(times) - 1) / (times[-1] - times[0])
    print(f"rate limit {rate}/s: mean {mean:.2f}/s, 1-second peak {max(per_second.values())}")
    assert max(per_second.values()) <= rate + 1
    assert mean <= rate * 1.1


def test_a_429_storm_loses_nothing_and_fails_nothing(celery_worker, workspace, fake):
    n = 300
    campaign = _campaign(workspace, n, rate=0)  # no limit of ours: only Twilio's 429s hold it
    celery_worker(env=_env(fake), concurrency=2)
    campaign_launch(campaign=campaign)
    fake.start_storm(period=3.0, length=1.0, retry_after=1)
    started = time.monotonic()
    _drive(_completed(campaign), timeout=TIMEOUT)
    refused = len(fake.creates()) - len(fake.messages)
    print(f"429 storm: {n} sent in {time.monotonic() - started:.1f} s, {refused} creates refused")
    assert refused > 0  # the storm was felt
    _assert_each_sent_once(fake, campaign, n)
