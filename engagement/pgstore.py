"""Storing a batch of clicks on PostgreSQL in two statements run through libpq (libpq.py):
one reads the messages, one inserts the clicks (and the people's, to count on their contacts
later: _COUNT). clicks.py builds the rows and keeps the portable path (the ORM) for other
databases."""

from datetime import datetime

from contacts.models import Contact
from messaging.models import Message

from .libpq import run_prepared, text_array
from .models import Click, ClickToCount

_MESSAGES = f"""
SELECT id, workspace_id, contact_id, campaign_id, run_id, channel,
       COALESCE(delivered_at, sent_at)
FROM {Message._meta.db_table} WHERE id = ANY($1::bigint[])
""".encode()

# One statement, so one transaction: the clicks, and a person's click to count on its contact
# (contact_clicks_count adds them later: updating a contact is the expensive part).
_INSERT = f"""
WITH new AS (
    INSERT INTO {Click._meta.db_table} (workspace_id, link_id, message_id, campaign_id, run_id,
        contact_id, kind, clicked_at, user_agent, ip_hash)
    SELECT * FROM unnest($1::bigint[], $2::bpchar[], $3::bigint[], $4::bigint[], $5::bigint[],
        $6::bigint[], $7::text[], $8::timestamptz[], $9::text[], $10::text[])
    RETURNING contact_id, kind, clicked_at
)
INSERT INTO {ClickToCount._meta.db_table} (contact_id, clicked_at)
SELECT contact_id, clicked_at FROM new
WHERE kind = '{Click.Kind.HUMAN}' AND contact_id IS NOT NULL
""".encode()

# Up to $1 clicks to count, taken (deleted) and added to their contacts in one statement: each
# contact's clicks added once, the contacts locked in id order. SKIP LOCKED: two at once take
# different clicks.
_COUNT = f"""
WITH taken AS (
    DELETE FROM {ClickToCount._meta.db_table} WHERE id IN (
        SELECT id FROM {ClickToCount._meta.db_table} ORDER BY id LIMIT $1
        FOR UPDATE SKIP LOCKED)
    RETURNING contact_id, clicked_at
), counts AS (
    SELECT contact_id, count(*) AS n, max(clicked_at) AS last FROM taken
    GROUP BY contact_id ORDER BY contact_id
), updated AS (
    UPDATE {Contact._meta.db_table} AS c
    SET click_count = c.click_count + counts.n,
        last_clicked_at = GREATEST(c.last_clicked_at, counts.last)
    FROM counts WHERE c.id = counts.contact_id
    RETURNING 1
)
SELECT count(*) FROM taken
""".encode()


def _int(value: bytes | None) -> int | None:
    return None if value is None else int(value)


def messages_reached(ids: list[int]) -> dict[int, tuple]:
    """message id → (workspace, contact, campaign, run, channel, delivered else sent time)."""
    found = {}
    for row in run_prepared(b"herald_click_messages", _MESSAGES, [text_array(ids)]):
        message_id, workspace_id, contact_id, campaign_id, run_id, channel, reached = row
        found[int(message_id)] = (
            int(workspace_id),
            _int(contact_id),
            _int(campaign_id),
            _int(run_id),
            channel.decode(),
            None if reached is None else datetime.fromisoformat(reached.decode()),
        )
    return found


def clicks_insert(rows: list[tuple]) -> None:
    if rows:
        columns = [text_array(column) for column in zip(*rows, strict=True)]
        run_prepared(b"herald_clicks_insert", _INSERT, columns)


def clicks_count(limit: int) -> int:
    """Add up to `limit` clicks to their contacts' counts; returns how many."""
    [(taken,)] = run_prepared(b"herald_clicks_count", _COUNT, [str(limit).encode()])
    return int(taken)
