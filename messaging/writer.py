"""The bulk writer for Message rows: binary COPY on PostgreSQL, bulk_create elsewhere.

Whatever fans a run out (campaigns) writes its millions of rows through this, in COPY_COLUMNS
order, so the outbox's table layout is known in one place.
"""

from contextlib import contextmanager

from django.db import connection

from .models import Message

# The Message columns a fan-out writes, with their PostgreSQL types (binary COPY needs them).
COPY_COLUMNS = (
    ("workspace_id", "int8"),
    ("run_id", "int8"),
    ("campaign_id", "int8"),
    ("contact_id", "int8"),
    ("channel", "varchar"),
    ("to_address", "varchar"),
    ("subject", "varchar"),
    ("body", "text"),
    ("html_body", "text"),
    ("sender_id", "int8"),
    ("send_after", "timestamptz"),
    ("status", "varchar"),
    ("skip_reason", "varchar"),
    ("attempts", "int2"),
    ("last_error", "text"),
    ("error_code", "varchar"),
    ("provider_message_id", "varchar"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
)
STATUS_INDEX = [name for name, _ in COPY_COLUMNS].index("status")


@contextmanager
def message_writer():
    """Yields a function that takes one Message row (COPY_COLUMNS order).

    On PostgreSQL it is a binary COPY, streamed: the server inserts and indexes the rows
    already sent while this process renders the next ones, and binary spares it parsing
    text. Elsewhere the rows are bulk-created at the end.
    """
    if connection.vendor == "postgresql":
        names = ", ".join(name for name, _ in COPY_COLUMNS)
        sql = f"COPY messaging_message ({names}) FROM STDIN (FORMAT BINARY)"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            copy.set_types([kind for _, kind in COPY_COLUMNS])
            yield copy.write_row
        return
    rows: list[tuple] = []
    yield rows.append
    fields = [name for name, _ in COPY_COLUMNS]
    Message.objects.bulk_create(
        [Message(**dict(zip(fields, row, strict=True))) for row in rows],
        ignore_conflicts=True,
        batch_size=500,
    )
