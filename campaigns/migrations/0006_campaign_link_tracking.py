from django.db import migrations, models


class Migration(migrations.Migration):
    """Link tracking (E1) is on for new campaigns; the campaigns that exist keep their links
    as written (a recurring one would otherwise start rewriting them at its next run)."""

    dependencies = [
        ("campaigns", "0005_campaign_agent_in_conversations"),
    ]

    operations = [
        migrations.AddField(
            model_name="campaign",
            name="link_click_code",
            field=models.BooleanField(
                default=False,
                help_text="Add hc=<code> to the landing page's address, for it to report conversions.",
            ),
        ),
        migrations.AddField(
            model_name="campaign",
            name="track_links",
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name="campaign",
            name="track_links",
            field=models.BooleanField(
                default=True, help_text="Shorten and track the links of each message."
            ),
        ),
    ]
