"""A link's message is found through a BRIN index instead of a B-tree (engagement/models.py):
the fan-out writes links in message order, so block ranges summarise them well, and each
link no longer adds an index entry (about a quarter of its row's cost to PostgreSQL)."""

import django.db.models.deletion
from django.db import migrations, models

BTREE = "engagement_trackedlink_message_id_05764e54"
BRIN = "trackedlink_message_brin"


def to_brin(apps, schema_editor):
    schema_editor.execute(f'DROP INDEX IF EXISTS "{BTREE}"')
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {BRIN} ON engagement_trackedlink USING brin (message_id) "
            # Each block range summarised as soon as it is full, not at the next vacuum.
            "WITH (autosummarize = on)"
        )


def to_btree(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {BRIN}")
    schema_editor.execute(f'CREATE INDEX "{BTREE}" ON engagement_trackedlink (message_id)')


class Migration(migrations.Migration):
    dependencies = [
        ("engagement", "0002_link_block_sequence"),
        ("messaging", "0007_message_fan_out_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(to_brin, to_btree)],
            state_operations=[
                migrations.AlterField(
                    model_name="trackedlink",
                    name="message",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="links",
                        to="messaging.message",
                    ),
                )
            ],
        )
    ]
