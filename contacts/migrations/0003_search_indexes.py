"""Trigram indexes for the contacts search (C5) on PostgreSQL; nothing on SQLite.

The name/email index is on the exact expression contacts.filters.SEARCH_TEXT uses, so
`... LIKE '%word%'` on it is a bitmap index scan instead of a scan of a million rows.
"""

from django.db import migrations

INDEXES = [
    (
        "contact_search_trgm",
        "CREATE INDEX IF NOT EXISTS contact_search_trgm ON contacts_contact USING gin "
        "((lower(first_name || ' ' || last_name || ' ' || email)) gin_trgm_ops)",
    ),
    (
        "contact_phone_trgm",
        "CREATE INDEX IF NOT EXISTS contact_phone_trgm ON contacts_contact "
        "USING gin (phone gin_trgm_ops)",
    ),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for _, sql in INDEXES:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_import_job_progress")]

    operations = [migrations.RunPython(create, drop)]
