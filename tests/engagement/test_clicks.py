"""Storing clicks in batches (clicks_store) and the queue the fast path stores through."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from engagement.clicks import ClickQueue, PendingClick, clicks_store, contact_clicks_count
from engagement.models import Click

from .factories import CampaignMessageFactory, TrackedLinkFactory

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def pending(link, *, at=None, agent=BROWSER, method="GET") -> PendingClick:
    return PendingClick(
        code=link.code,
        message_id=link.message_id,
        clicked_at=at or timezone.now(),
        method=method,
        user_agent=agent,
        ip="192.0.2.1",
    )


@pytest.mark.django_db
def test_a_batch_counts_each_contacts_clicks_once_with_the_latest_time(workspace):
    first, second = (TrackedLinkFactory(message__workspace=workspace) for _ in range(2))
    early = timezone.now() - timedelta(hours=1)
    late = timezone.now()
    batch = [
        pending(first, at=late),
        pending(first, at=early),
        pending(first, agent="WhatsApp/2.24"),
        pending(second, at=early),
    ]
    assert clicks_store(batch) == 4
    kinds = Click.objects.order_by("id").values_list("kind", flat=True)
    assert list(kinds) == ["human", "human", "bot", "human"]
    assert contact_clicks_count() == 3
    one, two = first.message.contact, second.message.contact
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.click_count, one.last_clicked_at) == (2, late)
    assert (two.click_count, two.last_clicked_at) == (1, early)


@pytest.mark.django_db
def test_an_older_click_does_not_move_last_clicked_back(workspace):
    link = TrackedLinkFactory(message__workspace=workspace)
    now = timezone.now()
    clicks_store([pending(link, at=now)])
    clicks_store([pending(link, at=now - timedelta(minutes=5))])
    contact_clicks_count()
    link.message.contact.refresh_from_db()
    assert (link.message.contact.click_count, link.message.contact.last_clicked_at) == (2, now)


@pytest.mark.django_db
def test_a_deleted_contact_keeps_the_campaigns_clicks(workspace):
    message = CampaignMessageFactory(workspace=workspace)
    link = TrackedLinkFactory(message=message)
    clicks_store([pending(link)])
    message.contact.delete()
    click = Click.objects.get()
    assert (click.contact_id, click.campaign_id) == (None, message.campaign_id)


class Recorder:
    """A store for ClickQueue that records batches; the first call can be held open."""

    def __init__(self, *, hold_first: bool = False, fail_first: bool = False):
        self.batches: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.hold_first, self.fail_first = hold_first, fail_first

    def __call__(self, batch):
        first = not self.batches and not self.entered.is_set()
        self.entered.set()
        if first and self.hold_first:
            assert self.release.wait(10)
        if first and self.fail_first:
            self.fail_first = False
            raise DatabaseError("connection lost")
        self.batches.append([click.code for click in batch])


def wait_until(condition, timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def click(code: str) -> PendingClick:
    return PendingClick(code, 1, timezone.now(), "GET", BROWSER, "")


def test_queue_clicks_arriving_while_one_batch_is_stored_make_the_next_batch():
    store = Recorder(hold_first=True)
    queue = ClickQueue(store)
    leader = threading.Thread(target=queue.add, args=[click("a")])
    leader.start()
    assert store.entered.wait(10)
    # The other threads only queue their clicks and return at once: one thread stores.
    for code in "bcd":
        other = threading.Thread(target=queue.add, args=[click(code)])
        other.start()
        other.join(10)
        assert not other.is_alive()
    store.release.set()
    leader.join(10)
    assert store.batches == [["a"], ["b", "c", "d"]]


def test_queue_keeps_clicks_the_database_refused_for_the_next_click():
    store = Recorder(fail_first=True)
    queue = ClickQueue(store)
    queue.add(click("a"))  # the redirect went out; the failure is logged, not raised
    assert store.batches == []
    queue.add(click("b"))
    assert store.batches == [["a", "b"]]


def test_queue_stores_in_bounded_batches():
    store = Recorder(hold_first=True)
    queue = ClickQueue(store)
    queue.BATCH = 2
    leader = threading.Thread(target=queue.add, args=[click("a")])
    leader.start()
    assert store.entered.wait(10)
    for code in "bcde":
        queue.add(click(code))
    store.release.set()
    leader.join(10)
    assert store.batches == [["a"], ["b", "c"], ["d", "e"]]


def test_lookups_arriving_while_one_query_runs_share_the_next_query():
    from engagement.fastpath import _Lookups

    queries: list[list[str]] = []
    entered, release = threading.Event(), threading.Event()

    def find(codes):
        queries.append(sorted(codes))
        if len(queries) == 1:
            entered.set()
            assert release.wait(10)
        return {code: (f"https://example.com/{code}", 1) for code in codes if code != "gone"}

    lookups = _Lookups(find)
    answers: dict[str, object] = {}

    def get(code):
        answers[code] = lookups.get(code)

    first = threading.Thread(target=get, args=["a"])
    first.start()
    assert entered.wait(10)
    others = [threading.Thread(target=get, args=[code]) for code in ("b", "gone", "b")]
    for thread in others:
        thread.start()
    # The waiting threads' codes are queued, not looked up, until the first query returns.
    assert wait_until(lambda: len(lookups._queue) == 3)
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert queries == [["a"], ["b", "b", "gone"]]
    found = {"a": ("https://example.com/a", 1), "b": ("https://example.com/b", 1)}
    assert answers == {**found, "gone": None}


def test_lookup_failure_reaches_the_thread_that_asked():
    from engagement.fastpath import _Lookups

    def find(codes):
        raise DatabaseError("connection lost")

    with pytest.raises(DatabaseError):
        _Lookups(find).get("a")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "agent",
    [
        'Mozilla/5.0 "quoted" \\back\\slash, {brace} NULL ü 日本',
        "NULL",
        '"',
        "\\",
        "Mozilla/5.0 (X11)\x00 nul",
        "x" * 600,
    ],
)
def test_awkward_user_agents_are_stored_as_sent(workspace, agent):
    link = TrackedLinkFactory(message__workspace=workspace)
    assert clicks_store([pending(link, agent=agent)]) == 1
    stored = Click.objects.get().user_agent
    assert stored == agent.replace("\x00", "")[:512]
