"""The campaign state machine (K7), in one place: launch, pause, resume, delete; runs that
start when due, complete when nothing is left to send, fail, or reopen.

    Draft → Scheduled / Running → Completed, with Paused (resume continues) and Failed.

A recurring campaign makes one run per occurrence and is Scheduled between runs. Pausing sets
each active run's `paused` flag, which the outbox's pump respects.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from engagement.services import campaign_engagement_forget
from messaging.models import InboundMessage, Message

from .models import Campaign, CampaignRun
from .occurrences import first_occurrence, following_occurrence
from .selectors import campaign_targets
from .validation import campaign_clean, campaign_data

S = Message.Status
# A run is not finished while any message may still be sent: `unknown` ones are reconciled,
# and those the provider never got are sent (#12 defect 5: runs completed, then reopened).
OPEN_STATUSES = (S.QUEUED, S.SENDING, S.UNKNOWN)
ACTIVE = (Campaign.State.SCHEDULED, Campaign.State.RUNNING)
FINISHED_RUNS = (CampaignRun.State.COMPLETED, CampaignRun.State.FAILED)


class StateError(Exception):
    """The campaign's state does not allow this action (the API answers 409)."""


def campaign_launch(*, campaign: Campaign) -> Campaign:
    """Draft → Running (send now) or Scheduled (a future time or a recurrence)."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.state != Campaign.State.DRAFT:
            raise StateError(f"A {campaign.get_state_display().lower()} campaign cannot launch.")
        _check_audience(campaign)
        # Past times, a deleted sender: what was valid as a draft may not be any more.
        campaign_clean(workspace=campaign.workspace, data=campaign_data(campaign))
        now = timezone.now()
        campaign.launched_at = now
        if campaign.scheduled_at is None:
            campaign.next_run_at = now
            campaign.state = Campaign.State.RUNNING
        else:
            first = first_occurrence(campaign, now)
            if first is None:
                raise ValidationError({"recurrence": "The recurrence ends before it starts."})
            campaign.next_run_at = first
            campaign.state = Campaign.State.SCHEDULED
        campaign.save()
        transaction.on_commit(_ring_the_bell)
    return campaign


def _check_audience(campaign: Campaign) -> None:
    """A launch needs someone to send to: its group's members or its smart group's matches."""
    if campaign.smart_group_id:
        if not campaign_targets(campaign=campaign).exists():
            raise ValidationError(
                {"group": f"The smart group “{campaign.smart_group}” matches no contacts."}
            )
    elif campaign.group is None:
        raise ValidationError({"group": "The campaign's group or smart group was deleted."})
    elif not campaign.group.memberships.exists():
        raise ValidationError({"group": f"The group “{campaign.group}” has no contacts."})


def _ring_the_bell() -> None:
    """Start the work at once instead of at the next beat (best effort: the beat will anyway)."""
    from .tasks import tick  # tasks import this module

    try:
        tick.delay()
    except Exception:  # the broker is down: the beat's next tick does the same work
        return


def campaign_pause(*, campaign: Campaign, reason: str = "") -> Campaign:
    """Stop sending within a tick: runs get the paused flag; claimed messages are released.

    `reason` says why when Herald pauses it (a limit was reached); the page shows it until the
    campaign resumes."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.state not in (Campaign.State.RUNNING, Campaign.State.SCHEDULED):
            raise StateError(f"A {campaign.get_state_display().lower()} campaign cannot be paused.")
        campaign.state = Campaign.State.PAUSED
        campaign.pause_reason = reason[:2000]
        campaign.save(update_fields=["state", "pause_reason", "updated_at"])
        campaign.runs.exclude(
            state__in=[CampaignRun.State.COMPLETED, CampaignRun.State.FAILED]
        ).update(paused=True)
    return campaign


def campaign_resume(*, campaign: Campaign) -> Campaign:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.state != Campaign.State.PAUSED:
            raise StateError(f"A {campaign.get_state_display().lower()} campaign cannot resume.")
        active = campaign.runs.exclude(
            state__in=[CampaignRun.State.COMPLETED, CampaignRun.State.FAILED]
        )
        active.update(paused=False)
        campaign.pause_reason = ""
        if active.exists() or (campaign.next_run_at and campaign.next_run_at <= timezone.now()):
            campaign.state = Campaign.State.RUNNING
        elif campaign.next_run_at:
            campaign.state = Campaign.State.SCHEDULED
        else:
            campaign.state = Campaign.State.COMPLETED
            campaign.completed_at = timezone.now()
        campaign.save()
        transaction.on_commit(_ring_the_bell)
    return campaign


RETRYABLE_STATES = (
    Campaign.State.RUNNING,
    Campaign.State.PAUSED,
    Campaign.State.SCHEDULED,
    Campaign.State.COMPLETED,
)


def campaign_retry_failed(*, campaign: Campaign) -> int:
    """Queue the campaign's failed messages again, as new (attempts from zero, error cleared);
    their runs reopen. A paused campaign keeps them until it resumes. Returns how many.

    Sending checks each again (opted out since, blocked, the frequency cap), so a contact who
    should not get it is skipped, not sent to."""
    if campaign.state not in RETRYABLE_STATES:
        raise StateError(
            f"A {campaign.get_state_display().lower()} campaign has no messages to retry."
        )
    now = timezone.now()
    with transaction.atomic():
        failed = Message.objects.filter(campaign_id=campaign.pk, status=S.FAILED)
        run_ids = set(failed.exclude(run=None).values_list("run_id", flat=True))
        count = failed.update(
            status=S.QUEUED,
            attempts=0,
            send_after=now,
            lease_expires_at=None,
            last_error="",
            error_code="",
            failed_at=None,
            updated_at=now,
        )
        if run_ids:
            runs_reopen(run_ids=run_ids)
        if count:
            transaction.on_commit(_ring_the_bell)
    return count


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign with its runs and messages (replies stay, unlinked).

    The messages go in one DELETE: Django's collector would load every row of a big campaign.
    """
    if campaign.state in (Campaign.State.RUNNING, Campaign.State.SCHEDULED):
        raise StateError("Pause the campaign before deleting it.")
    with transaction.atomic():
        InboundMessage.objects.filter(in_reply_to__campaign=campaign).update(in_reply_to=None)
        campaign_engagement_forget(campaign_id=campaign.pk)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM messaging_message WHERE campaign_id = %s", [campaign.pk])
        campaign.delete()


# Runs ---------------------------------------------------------------------------------------


def runs_start_due(*, now: datetime | None = None) -> list[int]:
    """Create the run of every campaign whose next occurrence is due; advance the schedule.

    Concurrent ticks are safe: the campaign row is locked (skip locked) and the run is unique
    per (campaign, occurrence).
    """
    now = now or timezone.now()
    started: list[int] = []
    due = Campaign.objects.filter(
        state__in=[Campaign.State.SCHEDULED, Campaign.State.RUNNING], next_run_at__lte=now
    ).values_list("id", flat=True)
    for campaign_id in list(due[:100]):
        with transaction.atomic():
            campaign = (
                Campaign.objects.select_for_update(skip_locked=True)
                .filter(
                    id=campaign_id,
                    state__in=[Campaign.State.SCHEDULED, Campaign.State.RUNNING],
                    next_run_at__lte=now,
                )
                .first()
            )
            if campaign is None:
                continue
            run, created = CampaignRun.objects.get_or_create(
                campaign=campaign,
                occurrence_at=campaign.next_run_at,
                defaults={
                    "workspace_id": campaign.workspace_id,
                    "state": CampaignRun.State.PENDING,
                },
            )
            campaign.next_run_at = following_occurrence(campaign, campaign.next_run_at, now)
            campaign.state = Campaign.State.RUNNING
            campaign.save(update_fields=["next_run_at", "state", "updated_at"])
            if created:
                started.append(run.id)
    return started


def runs_complete_finished(*, now: datetime | None = None) -> list[int]:
    """Runs with nothing queued or sending complete; so do one-off campaigns with all runs done."""
    now = now or timezone.now()
    open_messages = Message.objects.filter(  # the campaign id makes it an exact index lookup
        campaign_id=OuterRef("campaign_id"), run=OuterRef("pk"), status__in=OPEN_STATUSES
    )
    finished = list(
        CampaignRun.objects.filter(state=CampaignRun.State.RUNNING)
        .annotate(has_open=Exists(open_messages))
        .filter(has_open=False)
        .values_list("id", "campaign_id")
    )
    for run_id, _ in finished:
        CampaignRun.objects.filter(id=run_id, state=CampaignRun.State.RUNNING).update(
            state=CampaignRun.State.COMPLETED, completed_at=now
        )
    for campaign_id in {c for _, c in finished}:
        _campaign_settle(campaign_id, now)
    return [r for r, _ in finished]


def _campaign_settle(campaign_id: int, now: datetime) -> None:
    active = CampaignRun.objects.filter(campaign_id=campaign_id).exclude(
        state__in=[CampaignRun.State.COMPLETED, CampaignRun.State.FAILED]
    )
    if active.exists():
        return
    campaign = Campaign.objects.filter(id=campaign_id, state=Campaign.State.RUNNING)
    campaign.filter(next_run_at__isnull=True).update(
        state=Campaign.State.COMPLETED, completed_at=now
    )
    campaign.filter(next_run_at__isnull=False).update(state=Campaign.State.SCHEDULED)


def run_fail(*, run_id: int, reason: str) -> None:
    """A run that cannot go on: it and its campaign become Failed, with the reason (K7).

    Messages already queued for it are skipped so nothing half-prepared is sent.
    """
    now = timezone.now()
    with transaction.atomic():
        CampaignRun.objects.filter(id=run_id).update(
            state=CampaignRun.State.FAILED, error=reason[:2000], completed_at=now
        )
        Message.objects.filter(run_id=run_id, status=S.QUEUED).update(
            status=S.SKIPPED, skip_reason=Message.SkipReason.CAMPAIGN_STOPPED, updated_at=now
        )
        Campaign.objects.filter(runs__id=run_id).update(
            state=Campaign.State.FAILED, failure_reason=reason[:2000], completed_at=now
        )


def runs_reopen(*, run_ids) -> None:
    """Runs whose messages went back to the queue (reconciliation) are running again, and so
    are their campaigns if they had settled."""
    CampaignRun.objects.filter(id__in=run_ids, state=CampaignRun.State.COMPLETED).update(
        state=CampaignRun.State.RUNNING, completed_at=None
    )
    Campaign.objects.filter(
        runs__id__in=run_ids, state__in=[Campaign.State.COMPLETED, Campaign.State.SCHEDULED]
    ).update(state=Campaign.State.RUNNING, completed_at=None)
