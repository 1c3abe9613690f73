# Agent moves to the conversations app (issue 11). Its rows stay: the table is renamed here,
# conversations.0001 takes over the model's state, and 0005 points Campaign.agent at it.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0003_campaign_group_set_null'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name='agent', table='conversations_agent'),
            ],
        ),
    ]
