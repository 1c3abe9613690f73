"""The status index keeps only contacts that are not active: the opted-out filter is what
needs it, and an import, which adds only active contacts, no longer writes to it.
Created before the old one is dropped, so the filter never goes without an index."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('contacts', '0005_drop_redundant_indexes'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(condition=models.Q(('status', 'active'), _negated=True), fields=['workspace', 'status', '-created_at', '-id'], name='contact_ws_inactive'),
        ),
        migrations.RemoveIndex(
            model_name='contact',
            name='contact_ws_status',
        ),
    ]
