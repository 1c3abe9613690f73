"""What campaigns does when messaging reports an event (see messaging/hooks.py)."""

from messaging.models import Message

from .lifecycle import runs_reopen


def messages_requeued(*, message_ids: list[int]) -> None:
    """Messages of a finished run went back to the queue: the run and its campaign reopen."""
    runs = Message.objects.filter(id__in=message_ids, run__isnull=False).values_list("run_id")
    if run_ids := {run_id for (run_id,) in runs}:
        runs_reopen(run_ids=run_ids)
