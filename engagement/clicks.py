"""Storing clicks (E2): each request for a tracked link, classified, and the contact's counts.

The redirect answers first; its click is stored after the response is sent (see ClickQueue),
with the clicks of the other requests answered meanwhile: one read of their messages, one
INSERT. The contacts' counts are added by the tick, a few thousand clicks at a time
(contact_clicks_count).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils.crypto import salted_hmac

from contacts.models import Contact
from messaging.models import Message

from . import pgstore
from .bots import click_kind
from .models import Click, ClickToCount

logger = logging.getLogger("herald.engagement")

USER_AGENT_CHARS = Click._meta.get_field("user_agent").max_length


@dataclass(slots=True, frozen=True)
class PendingClick:
    """A request for a tracked link, as the redirect saw it."""

    code: str
    message_id: int
    clicked_at: datetime
    method: str
    user_agent: str
    ip: str


def ip_hash(ip: str) -> str:
    """A keyed hash of the address: the same address gives the same value (telling one
    scanner's many requests apart from many people's), and the address is not stored."""
    if not ip:
        return ""
    return hmac.new(_ip_key(settings.SECRET_KEY), ip.encode(), hashlib.sha256).hexdigest()[:32]


@lru_cache(maxsize=2)
def _ip_key(secret: str) -> bytes:
    """The key of ip_hash, derived from SECRET_KEY once (as salted_hmac does on every call)."""
    return salted_hmac("herald.engagement.click-ip", b"", secret=secret).digest()


# A stored click's columns, in the order of the rows built here.
COLUMNS = (
    "workspace_id",
    "link_id",
    "message_id",
    "campaign_id",
    "run_id",
    "contact_id",
    "kind",
    "clicked_at",
    "user_agent",
    "ip_hash",
)


def _row(pending: PendingClick, message: tuple) -> tuple:
    """A click's row from the request and its message's (workspace, contact, campaign, run,
    channel, delivered or else sent time)."""
    workspace_id, contact_id, campaign_id, run_id, channel, reached = message
    user_agent = pending.user_agent.replace("\x00", "")[:USER_AGENT_CHARS]
    kind = click_kind(
        method=pending.method,
        user_agent=user_agent,
        channel=channel,
        clicked_at=pending.clicked_at,
        # Email over SMTP is never reported delivered: accepted is when the gateway got it.
        delivered_at=reached,
    )
    return (
        workspace_id,
        pending.code,
        pending.message_id,
        campaign_id,
        run_id,
        contact_id,
        kind,
        pending.clicked_at,
        user_agent,
        ip_hash(pending.ip),
    )


def clicks_store(pending: Sequence[PendingClick]) -> int:
    """Store the clicks, in one transaction; returns how many were stored. Each human one is
    also queued to count on its contact (contact_clicks_count), not counted here: inserts
    only, so the redirect's clicks never wait on a contact's row lock or write its indexes.

    A click whose message is gone (its campaign was deleted since) has nothing to belong to
    and is dropped.
    """
    if not pending:
        return 0
    pg = connection.vendor == "postgresql"
    ids = list({p.message_id for p in pending})
    messages = pgstore.messages_reached(ids) if pg else _messages_reached(ids)
    rows = [_row(p, messages[p.message_id]) for p in pending if p.message_id in messages]
    if pg:
        pgstore.clicks_insert(rows)
    else:
        _insert(rows)
    return len(rows)


def contact_clicks_count(*, batch: int = 5000) -> int:
    """Add the people's clicks stored since the last call to their contacts' click_count and
    last_clicked_at (the tick calls this); returns how many were added. Each is taken from
    the queue in the transaction that counts it, so none is counted twice or lost. Two calls
    at once may deadlock on the contacts; the database aborts one, which tries again."""
    counted = 0
    for attempt in range(3):
        try:
            while True:
                taken = (
                    pgstore.clicks_count(batch)
                    if connection.vendor == "postgresql"
                    else (_count(batch))
                )
                counted += taken
                if taken < batch:
                    return counted
        except OperationalError:
            if attempt == 2:
                raise
    return counted


def _messages_reached(ids: list[int]) -> dict[int, tuple]:
    rows = (
        Message.objects.filter(id__in=ids)
        .annotate(reached=Coalesce("delivered_at", "sent_at"))
        .values_list(
            "id", "workspace_id", "contact_id", "campaign_id", "run_id", "channel", "reached"
        )
    )
    return {row[0]: row[1:] for row in rows}


def _insert(rows: list[tuple]) -> None:
    if not rows:
        return
    clicks = [Click(**dict(zip(COLUMNS, row, strict=True))) for row in rows]
    with transaction.atomic():
        Click.objects.bulk_create(clicks)
        ClickToCount.objects.bulk_create(
            ClickToCount(contact_id=click.contact_id, clicked_at=click.clicked_at)
            for click in clicks
            if click.kind == Click.Kind.HUMAN and click.contact_id is not None
        )


def _count(batch: int) -> int:
    with transaction.atomic():
        taken = list(ClickToCount.objects.select_for_update().order_by("id")[:batch])
        counts: dict[int, tuple[int, datetime]] = {}
        for click in taken:
            n, last = counts.get(click.contact_id, (0, click.clicked_at))
            counts[click.contact_id] = (n + 1, max(last, click.clicked_at))
        for pk, (n, last) in sorted(counts.items()):
            Contact.objects.filter(pk=pk).update(
                click_count=F("click_count") + n,
                # Greatest is NULL on SQLite when either side is: compare with the click.
                last_clicked_at=Greatest(Coalesce("last_clicked_at", Value(last)), Value(last)),
            )
        ClickToCount.objects.filter(id__in=[click.id for click in taken]).delete()
    return len(taken)


class ClickQueue:
    """Clicks the fast path answered, stored after their responses have been sent.

    A thread adds its click once its redirect is on the wire. If no thread is storing, it
    becomes the one that does: it stores everything queued, again and again until the queue
    is empty, while the other threads add their clicks and go back to answering. So whenever
    the queue holds a click, a thread is storing, and the clicks arriving while one batch is
    in the database make up the next batch. A thread holds its click until it is committed
    (or handed to the one storing), so a graceful shutdown, which waits for the requests in
    progress, loses none.
    """

    BATCH = 500
    MAX_PENDING = 100_000  # while the database is down: memory stays bounded

    def __init__(self, store: Callable[[Sequence[PendingClick]], object] = clicks_store):
        self._store = store
        self._lock = threading.Lock()
        self._pending: list[PendingClick] = []
        self._storing = False

    def add(self, click: PendingClick) -> None:
        with self._lock:
            if len(self._pending) >= self.MAX_PENDING:
                logger.error("click queue full: dropping the click on %s", click.code)
                return
            self._pending.append(click)
            if self._storing:
                return
            self._storing = True
        self._drain()

    def _drain(self) -> None:
        batch: list[PendingClick] = []
        try:
            while True:
                with self._lock:
                    batch, self._pending = self._pending[: self.BATCH], self._pending[self.BATCH :]
                    if not batch:
                        self._storing = False
                        return
                self._store(batch)
        except DatabaseError:
            # Kept for the next click's thread to try again; the redirects already went out.
            logger.exception("storing %s clicks failed; they wait for the next click", len(batch))
            with self._lock:
                self._pending[:0] = batch
                self._storing = False
        except BaseException:
            with self._lock:
                self._storing = False
            raise
