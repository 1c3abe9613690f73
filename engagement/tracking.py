"""Tracked links made as messages are made (E1): a campaign run's fan-out, a test send, the
builder's preview and character count.

`MessageLinks` takes a campaign's body and HTML once and turns their links into slots
(links.track_template). For each recipient, `fill` renders every slot's destination (a URL
without variables is worked out once), gives it a new code and puts the short link in the
rendering context; a URL that does not render to a valid http(s) address stays as written.
Codes are made a block at a time: one query takes the block's link numbers (the codes'
ascending prefix, see codes.py), the OS's random source the rest.
"""

from __future__ import annotations

import secrets

from django.db import connection

from messaging import templating
from messaging.models import Message

from .codes import BLOCK, NUMBERS, new_codes
from .links import (
    SLOT,
    destination,
    sample_short_url,
    short_url,
    track_template,
    with_click_code,
)
from .models import TrackedLink

BACKSLASH = "\\"


class MessageLinks:
    """The links of one campaign's messages, and the codes each recipient's message gets."""

    def __init__(self, *, body: str, html: str = "", click_code: bool = False):
        self.body, urls = track_template(body or "")
        self.html, urls = track_template(html or "", is_html=True, urls=urls)
        self.click_code = click_code
        self.urls = [templating.compile_template(url) for url in urls]
        # (destination, as written) of a URL without variables, worked out once.
        self.fixed = [
            None if templating.variables(url) else (destination(url), url) for url in urls
        ]
        self._codes: list[str] = []
        # Worked out once, not per recipient: the slots' names and the short links' prefix.
        self._slots = [SLOT.format(index) for index in range(len(urls))]
        self._short = short_url("")
        # (slot, destination) of every URL when none has variables or an hc= code (what most
        # campaigns have): filled without working anything out per recipient.
        self._plain = (
            None
            if click_code or any(fixed is None or fixed[0] is None for fixed in self.fixed)
            else [(slot, fixed[0]) for slot, fixed in zip(self._slots, self.fixed, strict=True)]
        )

    def __bool__(self) -> bool:
        return bool(self.urls)

    def fill(self, context: dict) -> list[tuple[str, str]]:
        """Put this recipient's short links in `context` (the slots' values); returns the
        (code, destination) of each."""
        made = []
        if self._plain is not None:
            for slot, target in self._plain:
                code = self._codes.pop() if self._codes else self._code()
                made.append((code, target))
                context[slot] = self._short + code
            return made
        for parts, fixed, slot in zip(self.urls, self.fixed, self._slots, strict=True):
            if fixed is None:
                written = templating.render_compiled(parts, context)
                target = destination(written)
            else:
                target, written = fixed
            if target is None:
                context[slot] = written
                continue
            code = self._codes.pop() if self._codes else self._code()
            made.append((code, with_click_code(target, code) if self.click_code else target))
            context[slot] = self._short + code
        return made

    def preview(self, context: dict) -> None:
        """Put a sample short link in each slot: what the preview and the count show."""
        for index in range(len(self.urls)):
            context[SLOT.format(index)] = sample_short_url()

    def reserve(self, messages: int) -> None:
        """Make the codes of `messages` more messages now: the fan-out calls this before its
        COPY of them starts, since the connection can run no query while it lasts."""
        wanted = messages * len(self.urls) - len(self._codes)
        if wanted > 0:
            self._more(-(-wanted // BLOCK))

    def _code(self) -> str:
        if not self._codes:
            self._more(1)
        return self._codes.pop()

    def _more(self, blocks: int) -> None:
        made = [code for first in link_numbers(blocks) for code in new_codes(BLOCK, first)]
        # Reversed, so pop() hands them out in ascending order.
        self._codes = made[::-1] + self._codes


LINK_BLOCKS = "engagement_link_block"  # a sequence (migration 0002)


def link_numbers(blocks: int = 1) -> list[int]:
    """The first numbers of `blocks` blocks of BLOCK link numbers nobody else has, ascending.
    On PostgreSQL one sequence value is a block (nextval never hands one out twice, whatever
    rolls back); elsewhere a random place, as tests and development need no more."""
    if connection.vendor != "postgresql":
        return sorted(secrets.randbelow(NUMBERS - BLOCK) for _ in range(blocks))
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [LINK_BLOCKS, blocks])
        return sorted(row[0] * BLOCK for row in cursor.fetchall())


def short_form(template: str) -> str:
    """An SMS template with its trackable links in their short form (variables kept), for
    the builder's character and segment count."""
    links = MessageLinks(body=template)
    context: dict = {}
    links.preview(context)
    return "".join(
        part if part.__class__ is str else (context.get(part[0]) or "{{" + part[0] + "}}")
        for part in templating.compile_template(links.body)
    )


def links_save(*, message_id: int, links: list[tuple[str, str]]) -> None:
    """Store the links of one message (a test send)."""
    TrackedLink.objects.bulk_create(
        TrackedLink(code=code, message_id=message_id, url=url) for code, url in links
    )


def run_links_save(*, run_id: int, links: list[tuple[int, list[tuple[str, str]]]]) -> None:
    """Store the links of a fan-out batch, (contact id, [(code, destination)...]) for each
    message with links (what MessageLinks.fill made for it), once its
    messages are written (in the same transaction): each finds its message by (run, contact),
    the outbox's unique key. A code already taken is an IntegrityError, and the batch is made
    again (see codes.py for how seldom)."""
    if not links:
        return
    contact_ids = [contact_id for contact_id, _ in links]
    with connection.cursor() as cursor:  # plain rows: the ORM's cost a microsecond each
        cursor.execute(
            f"SELECT contact_id, id FROM {Message._meta.db_table} "
            "WHERE run_id = %s AND contact_id BETWEEN %s AND %s",
            [run_id, min(contact_ids), max(contact_ids)],
        )
        messages = dict(cursor.fetchall())
    if connection.vendor != "postgresql":
        TrackedLink.objects.bulk_create(
            TrackedLink(code=code, message_id=messages[contact_id], url=url)
            for contact_id, made in links
            for code, url in made
        )
        return
    # One text COPY of the whole batch, composed here: a code is base62, a destination
    # printable ASCII without white space (links.destination), so only a backslash would
    # need escaping in COPY's text format. psycopg's write_row per link cost more than the
    # rest of the link's work together.
    data = "".join(
        [
            f"{code}\t{message_id}\t{url.replace(BACKSLASH, BACKSLASH * 2)}\n"
            for contact_id, made in links
            for message_id in (messages[contact_id],)
            for code, url in made
        ]
    ).encode("ascii")
    sql = f"COPY {TrackedLink._meta.db_table} (code, message_id, url) FROM STDIN"
    # Errors as Django's (a taken code is an IntegrityError): the COPY is psycopg's own.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(sql) as copy,
    ):
        copy.write(data)
