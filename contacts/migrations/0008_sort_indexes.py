"""Indexes for the contacts table's sorts (C5), on PostgreSQL; nothing new on SQLite.

Each index holds the exact expressions of its sort's ORDER BY in contacts.tables.ContactTable
(after the workspace), so a sorted page walks it instead of reading and sorting every
matching row (0.4-1.7 s a first page at a million contacts). A sort keeps missing values last
in both directions, so each direction needs an index of its own: walked backwards, an
ascending index would put them first. "Added" walks contact_ws_created either way.

The name indexes include the names themselves: the expressions are computed from them, and
without them a deep page's ids (OFFSET 50,000, contacts.tables.DeepPageLazyPaginator) could
not be read from the index alone (~200 ms instead of ~25 warm, a second cold). They replace
contact_ws_name (workspace, last_name, first_name), which no query walks any more (the
duplicate check probes contact_ws_phone and contact_ws_email). The status indexes hold every
contact; the partial contact_ws_inactive stays, smaller, for the opted-out filter, and costs
imports nothing.

They are created only on PostgreSQL, like the search indexes of 0003: the ICU collation is
PostgreSQL's, and they are not in the models' state, so a SQLite table rebuild never makes
them. tests/contacts/test_sort_plans.py checks that each sort's first page walks its index.
"""

from django.db import migrations

NAME_EMPTY = "((first_name)::text = ''::text AND (last_name)::text = ''::text)"
SURNAME = (
    "(COALESCE(NULLIF((last_name)::text, ''::text), (first_name)::text) COLLATE \"und-x-icu\")"
)
FIRST = "((first_name)::text COLLATE \"und-x-icu\")"
NAMES = "INCLUDE (last_name, first_name)"

INDEXES = {  # name: (columns, what else)
    "contact_ws_sort_name": (f"workspace_id, ({NAME_EMPTY}), {SURNAME}, {FIRST}, id", NAMES),
    "contact_ws_sort_name_desc": (
        f"workspace_id, ({NAME_EMPTY}), {SURNAME} DESC, {FIRST} DESC, id DESC",
        NAMES,
    ),
    "contact_ws_sort_phone": ("workspace_id, ((phone)::text = ''::text), phone, id", ""),
    "contact_ws_sort_phone_desc": ("workspace_id, ((phone)::text = ''::text), phone DESC, id", ""),
    "contact_ws_sort_email": ("workspace_id, ((email)::text = ''::text), email, id", ""),
    "contact_ws_sort_email_desc": ("workspace_id, ((email)::text = ''::text), email DESC, id", ""),
    "contact_ws_sort_status": ("workspace_id, status, created_at DESC, id DESC", ""),
    "contact_ws_sort_status_desc": ("workspace_id, status DESC, created_at DESC, id DESC", ""),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, (columns, extra) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON contacts_contact ({columns}) {extra}"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0007_contact_engagement")]

    operations = [
        # The new indexes first, so the list never goes without one.
        migrations.RunPython(create, drop),
        migrations.RemoveIndex(model_name="contact", name="contact_ws_name"),
    ]
