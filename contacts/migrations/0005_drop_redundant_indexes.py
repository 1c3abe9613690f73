"""Drop three single-column foreign-key indexes that composite indexes already cover.

contacts_contact.workspace_id leads every contact index; groupmembership's group_id and
contact_id lead (group, contact) and (contact, group). Each index costs a write for every row
an import adds. Only the indexes go: the foreign-key constraints stay as they are (letting
Django alter the fields would drop and re-validate them, a full scan under lock).
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = [
    ("contacts_contact_workspace_id_c425fb7f", "contacts_contact", "workspace_id"),
    ("contacts_groupmembership_contact_id_90b201bc", "contacts_groupmembership", "contact_id"),
    ("contacts_groupmembership_group_id_b011c116", "contacts_groupmembership", "group_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("contacts", "0004_status_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for name, table, column in INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="workspace",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="contacts",
                        to="accounts.workspace",
                    ),
                ),
                migrations.AlterField(
                    model_name="groupmembership",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="contacts.contact",
                    ),
                ),
                migrations.AlterField(
                    model_name="groupmembership",
                    name="group",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="contacts.contactgroup",
                    ),
                ),
            ],
        )
    ]
