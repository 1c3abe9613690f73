"""What campaigns does when messaging reports an event (see messaging/hooks.py)."""

from contextlib import suppress

from messaging.models import Message

from .lifecycle import StateError, campaign_pause, runs_reopen
from .models import Campaign


def messages_requeued(*, message_ids: list[int]) -> None:
    """Messages of a finished run went back to the queue: the run and its campaign reopen."""
    runs = Message.objects.filter(id__in=message_ids, run__isnull=False).values_list("run_id")
    if run_ids := {run_id for (run_id,) in runs}:
        runs_reopen(run_ids=run_ids)


def send_limit_reached(*, run_ids: list[int], reason: str) -> None:
    """The workspace reached its daily send limit: the campaigns of these runs pause, saying
    why, until a person resumes them."""
    running = Campaign.objects.filter(runs__id__in=run_ids, state=Campaign.State.RUNNING)
    for campaign in running.distinct():
        with suppress(StateError):  # paused or finished meanwhile
            campaign_pause(campaign=campaign, reason=reason)


ACTIVE = (Campaign.State.SCHEDULED, Campaign.State.RUNNING, Campaign.State.PAUSED)


def _active(workspace_id: int, **target) -> list[str]:
    campaigns = Campaign.objects.filter(
        workspace_id=workspace_id, state__in=ACTIVE, **target
    ).order_by("name", "pk")
    return [f"Campaign “{c.name}” ({c.get_state_display().lower()})" for c in campaigns]


def group_campaigns(group) -> list[str]:
    """The campaigns still to send to a group (scheduled, running or paused), for the
    confirmation before it is deleted (see contacts.groups.group_users)."""
    return _active(group.workspace_id, group=group)


def agent_campaigns(agent) -> list[str]:
    """The campaigns still to send with an agent (see conversations.services.agent_users)."""
    return _active(agent.workspace_id, agent=agent)


def smart_group_campaigns(smart_group) -> list[str]:
    """The campaigns still to send to a smart group, for the confirmation before it is
    deleted (see audiences.services.smart_group_users)."""
    active = (Campaign.State.SCHEDULED, Campaign.State.RUNNING, Campaign.State.PAUSED)
    campaigns = Campaign.objects.filter(
        workspace_id=smart_group.workspace_id, smart_group=smart_group, state__in=active
    ).order_by("name", "pk")
    return [f"Campaign “{c.name}” ({c.get_state_display().lower()})" for c in campaigns]
