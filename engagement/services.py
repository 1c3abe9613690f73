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
        # The span of the messages' ids first: what the BRIN index on message_id can find.
        # (`id + 0`: min(id) alone is planned as a walk of the whole primary key.)
        cursor.execute(
            f"SELECT min(id + 0), max(id + 0) FROM {Message._meta.db_table} WHERE campaign_id = %s",
            [campaign_id],
        )
        low, high = cursor.fetchone()
        if low is not None:
            cursor.execute(
                f"DELETE FROM {TrackedLink._meta.db_table} WHERE message_id BETWEEN %s AND %s "
                f"AND message_id IN ({messages})",
                [low, high, campaign_id],
            )
    Conversion.objects.filter(campaign_id=campaign_id).update(message=None)
