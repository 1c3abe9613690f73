"""What campaigns does when messaging reports an event (see messaging/hooks.py)."""

from messaging.models import Message

from .models import Campaign, CampaignRun


def messages_requeued(*, message_ids: list[int]) -> None:
    """Messages of a finished run went back to the queue: the run and its campaign reopen."""
    run_ids = set(
        Message.objects.filter(id__in=message_ids, run__isnull=False).values_list(
            "run_id", flat=True
        )
    )
    if not run_ids:
        return
    CampaignRun.objects.filter(id__in=run_ids, state=CampaignRun.State.COMPLETED).update(
        state=CampaignRun.State.RUNNING, completed_at=None
    )
    Campaign.objects.filter(
        runs__id__in=run_ids, state__in=[Campaign.State.COMPLETED, Campaign.State.SCHEDULED]
    ).update(state=Campaign.State.RUNNING, completed_at=None)
