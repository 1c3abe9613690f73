# Campaign.agent now points at conversations.Agent, the same table renamed (campaigns.0004):
# the column and its rows are unchanged, so only the state moves.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0004_agent_table_to_conversations'),
        ('conversations', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='campaign',
                    name='agent',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='campaigns', to='conversations.agent'),
                ),
                migrations.DeleteModel(name='Agent'),
            ],
        ),
    ]
