# Agent and AgentRule, moved here from campaigns and messaging with their rows (issue 11):
# their tables were renamed by campaigns.0004 and messaging.0008, so this only takes over the
# models' state, and moves their content types so admin permissions granted on them stay.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MOVED = [('campaigns', 'agent'), ('messaging', 'agentrule')]


def _move_content_types(apps, moves):
    ContentType = apps.get_model('contenttypes', 'ContentType')
    for source, target, model in moves:
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(app_label=target)


def forwards(apps, schema_editor):
    _move_content_types(apps, [(old, 'conversations', model) for old, model in MOVED])


def backwards(apps, schema_editor):
    _move_content_types(apps, [('conversations', old, model) for old, model in MOVED])


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0001_initial'),
        ('campaigns', '0004_agent_table_to_conversations'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('messaging', '0008_agentrule_to_conversations'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Agent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120)),
                        ('instructions', models.TextField(blank=True)),
                        ('opening_message', models.TextField(blank=True)),
                        ('voice', models.CharField(default='Polly.Joanna', max_length=60)),
                        ('max_call_seconds', models.PositiveIntegerField(default=300)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='agents', to='accounts.workspace')),
                    ],
                    options={
                        'ordering': ['name', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='AgentRule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('keyword', models.CharField(help_text='Matched case-insensitively, e.g. CONFIRM.', max_length=40)),
                        ('reply', models.TextField(help_text='Sent back as SMS; may use {{first_name}} etc.')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('agent', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rules', to='conversations.agent')),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.workspace')),
                    ],
                    options={
                        'ordering': ['keyword'],
                        'constraints': [models.UniqueConstraint(fields=('agent', 'keyword'), name='agentrule_unique_keyword')],
                    },
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
