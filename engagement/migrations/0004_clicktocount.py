from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("engagement", "0003_trackedlink_message_brin")]

    operations = [
        migrations.CreateModel(
            name="ClickToCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("contact_id", models.BigIntegerField()),
                ("clicked_at", models.DateTimeField()),
            ],
        ),
    ]
