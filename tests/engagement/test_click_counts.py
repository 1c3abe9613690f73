"""A person's clicks counted on the contact later, by the tick (clicks.contact_clicks_count):
the redirect only inserts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import tick as engine
from engagement.clicks import PendingClick, clicks_store, contact_clicks_count
from engagement.models import Click, ClickToCount

from .factories import TrackedLinkFactory

pytestmark = pytest.mark.django_db
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def store(link, *, at=None, agent=BROWSER, method="GET") -> None:
    at = at or timezone.now()
    clicks_store([PendingClick(link.code, link.message_id, at, method, agent, "192.0.2.1")])


def test_clicks_count_on_the_contact_once_counted_and_only_once(workspace):
    link = TrackedLinkFactory(message__workspace=workspace)
    contact = link.message.contact
    late = timezone.now()
    store(link, at=late - timedelta(minutes=3))
    store(link, at=late)
    store(link, agent="WhatsApp/2.24")  # a preview: stored, never counted
    store(link, method="HEAD")
    contact.refresh_from_db()
    assert (contact.click_count, contact.last_clicked_at) == (0, None)  # not yet
    assert Click.objects.count() == 4 and ClickToCount.objects.count() == 2
    assert contact_clicks_count() == 2
    contact.refresh_from_db()
    assert (contact.click_count, contact.last_clicked_at) == (2, late)
    assert contact_clicks_count() == 0  # again: nothing is counted twice
    contact.refresh_from_db()
    assert contact.click_count == 2 and not ClickToCount.objects.exists()


def test_every_click_is_counted_across_batches(workspace):
    links = [TrackedLinkFactory(message__workspace=workspace) for _ in range(3)]
    for link in links:
        for _ in range(3):
            store(link)
    assert contact_clicks_count(batch=2) == 9
    for link in links:
        link.message.contact.refresh_from_db()
        assert link.message.contact.click_count == 3


def test_a_click_of_a_deleted_contact_is_dropped_from_the_count(workspace):
    link = TrackedLinkFactory(message__workspace=workspace)
    store(link)
    link.message.contact.delete()
    assert contact_clicks_count() == 1
    assert not ClickToCount.objects.exists()
    assert Click.objects.get().contact_id is None  # the campaign keeps the click


def test_the_tick_counts_the_clicks(workspace):
    link = TrackedLinkFactory(message__workspace=workspace)
    store(link)
    report = engine.tick(send_inline=True)
    assert report["clicks_counted"] == 1
    link.message.contact.refresh_from_db()
    assert link.message.contact.click_count == 1
