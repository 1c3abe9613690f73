"""Storing a batch of clicks on PostgreSQL in two statements run through libpq (libpq.py):
one reads the messages, one inserts the clicks and counts the people's on their contacts.
clicks.py builds the rows and keeps the portable path (the ORM) for other databases."""

from datetime import datetime

from contacts.models import Contact
from messaging.models import Message

from .libpq import run_prepared, text_array
from .models import Click

_MESSAGES = f"""
SELECT id, workspace_id, contact_id, campaign_id, run_id, channel,
       COALESCE(delivered_at, sent_at)
FROM {Message._meta.db_table} WHERE id = ANY($1::bigint[])
""".encode()

# One statement, so one transaction: the clicks, then each contact's people's clicks added
# (the contacts locked in id order, so two batches seldom deadlock).
_INSERT_AND_COUNT = f"""
WITH new AS (
    INSERT INTO {Click._meta.db_table} (workspace_id, link_id, message_id, campaign_id, run_id,
        contact_id, kind, clicked_at, user_agent, ip_hash)
    SELECT * FROM unnest($1::bigint[], $2::bpchar[], $3::bigint[], $4::bigint[], $5::bigint[],
        $6::bigint[], $7::text[], $8::timestamptz[], $9::text[], $10::text[])
    RETURNING contact_id, kind, clicked_at
), counts AS (
    SELECT contact_id, count(*) AS n, max(clicked_at) AS last FROM new
    WHERE kind = '{Click.Kind.HUMAN}' AND contact_id IS NOT NULL
    GROUP BY contact_id ORDER BY contact_id
)
UPDATE {Contact._meta.db_table} AS c
SET click_count = c.click_count + counts.n,
    last_clicked_at = GREATEST(c.last_clicked_at, counts.last)
FROM counts WHERE c.id = counts.contact_id
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


def clicks_insert_and_count(rows: list[tuple]) -> None:
    if rows:
        columns = [text_array(column) for column in zip(*rows, strict=True)]
        run_prepared(b"herald_clicks_store", _INSERT_AND_COUNT, columns)
