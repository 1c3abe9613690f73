# AgentRule moves to the conversations app (issue 11). Its rows stay: the table is renamed and
# the model leaves this app's state; conversations.0001 takes it over.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0007_message_fan_out_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name='agentrule', table='conversations_agentrule'),
            ],
            state_operations=[
                migrations.DeleteModel(name='AgentRule'),
            ],
        ),
    ]
