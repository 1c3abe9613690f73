"""Engagement writes that other apps call (clicks and conversions have their own modules)."""

from django.db import connection

from messaging.models import Message

from .models import Conversion, TrackedLink


def campaign_engagement_forget(*, campaign_id: int) -> None:
    """Before a campaign's messages are deleted in one statement (campaigns.lifecycle): their
    links go too (they would redirect for nobody), and the conversions keep their revenue
    but no longer point at a message. The clicks go with the campaign row (CASCADE)."""
    messages = f"SELECT id FROM {Message._meta.db_table} WHERE campaign_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {TrackedLink._meta.db_table} WHERE message_id IN ({messages})",
            [campaign_id],
        )
    Conversion.objects.filter(campaign_id=campaign_id).update(message=None)
