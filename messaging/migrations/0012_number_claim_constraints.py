"""The database refuses a phone sender whose claim is not its own workspace's number."""

import django.db.models.functions.comparison
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("messaging", "0011_claim_existing_numbers")]

    operations = [
        migrations.AddConstraint(
            model_name="sender",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("channel", "email"), ("claim__isnull", True)),
                    models.Q(
                        ("channel__in", ("sms", "voice")),
                        (
                            "claim",
                            django.db.models.functions.text.Concat(
                                django.db.models.functions.comparison.Cast(
                                    models.F("workspace"), output_field=models.CharField()
                                ),
                                models.Value(":"),
                                models.F("address"),
                            ),
                        ),
                        ("claim__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="sender_number_claimed",
            ),
        ),
        migrations.AddConstraint(
            model_name="phonenumber",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "key",
                        django.db.models.functions.text.Concat(
                            django.db.models.functions.comparison.Cast(
                                models.F("workspace"), output_field=models.CharField()
                            ),
                            models.Value(":"),
                            models.F("number"),
                        ),
                    )
                ),
                name="phone_number_key",
            ),
        ),
    ]
