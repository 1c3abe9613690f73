"""Campaigns and their runs, one per execution (K1-K11)."""

from django.db import models
from django.utils.timezone import now

from accounts.models import Workspace
from contacts.models import WorkspaceQuerySet

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
CONTACT_LOCAL = "contact_local"


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"
    VOICE = "voice", "Voice call"


class Campaign(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.SMS)
    # SET_NULL: deleting a group keeps the campaigns sent to it and their results.
    group = models.ForeignKey(
        "contacts.ContactGroup",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaigns",
    )
    # Or a smart group (G2), evaluated when each run fans out; SET_NULL as for groups.
    smart_group = models.ForeignKey(
        "audiences.SmartGroup",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaigns",
    )
    agent = models.ForeignKey(
        "conversations.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaigns",
    )
    sender = models.ForeignKey(
        "messaging.Sender",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaigns",
    )
    message_template = models.TextField(blank=True)
    subject = models.CharField(max_length=255, blank=True)
    html_template = models.TextField(blank=True)
    # E1: each link of an SMS or email becomes a short link unique to the recipient.
    track_links = models.BooleanField(
        default=True, help_text="Shorten and track the links of each message."
    )
    link_click_code = models.BooleanField(
        default=False,
        help_text="Add hc=<code> to the landing page's address, for it to report conversions.",
    )
    timezone = models.CharField(
        max_length=64, default="UTC", help_text='IANA name, or "contact_local".'
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)
    window_start_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    window_end_hour = models.PositiveSmallIntegerField(null=True, blank=True)
    excluded_days = models.JSONField(default=list, blank=True)
    recurrence = models.JSONField(null=True, blank=True)
    max_retries = models.PositiveSmallIntegerField(default=2)
    retry_interval = models.PositiveIntegerField(default=300, help_text="Seconds.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    failure_reason = models.TextField(blank=True)
    pause_reason = models.TextField(
        blank=True, help_text="Why Herald paused the campaign (a limit), shown until it resumes."
    )
    next_run_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next run starts (scheduled/recurring)."
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="campaign_ws_created"),
            models.Index(fields=["state", "next_run_at"], name="campaign_due"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def body_template(self) -> str:
        """What each recipient gets: the message, or for a call without one the agent's
        opening message (K2). Fan-out, the test send, the preview and the review all use it."""
        if self.channel == Channel.VOICE and not self.message_template and self.agent_id:
            return self.agent.opening_message
        return self.message_template

    @property
    def audience_name(self) -> str:
        """The name of whom it targets: its group or smart group ("" once deleted)."""
        if self.smart_group_id:
            return f"{self.smart_group.name} (smart group)"
        return self.group.name if self.group_id else ""

    @property
    def tracks_links(self) -> bool:
        """Whether its messages' links become tracked short links (E1): SMS and email."""
        return self.track_links and self.channel in (Channel.SMS, Channel.EMAIL)

    @property
    def is_recurring(self) -> bool:
        return bool(self.recurrence)

    @property
    def schedule_label(self) -> str:
        """ "On launch", "2026-05-01 09:00 Europe/Paris", "Weekly on Monday, Friday at 09:00 …"."""
        if self.scheduled_at is None:
            return "On launch"
        from campaigns import scheduling

        local = self.timezone == CONTACT_LOCAL
        wall = scheduling.to_wall(self.scheduled_at, "UTC" if local else self.timezone)
        zone = "each contact's local time" if local else self.timezone
        if not self.recurrence:
            return f"{wall:%Y-%m-%d %H:%M} {zone}"
        frequency = self.recurrence.get("frequency", "")
        if frequency == "weekly":
            what = "Weekly on " + ", ".join(self.recurrence.get("days") or [])
        elif frequency == "monthly":
            what = f"Monthly on day {self.recurrence.get('day_of_month')}"
        else:
            what = "Daily"
        until = f", until {self.recurrence['until']}" if self.recurrence.get("until") else ""
        return f"{what} at {wall:%H:%M} {zone}{until}"


class CampaignRun(models.Model):
    """One execution of a campaign: a one-off campaign has one, a recurring one one per date."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to start"
        FANNING_OUT = "fanning_out", "Preparing messages"
        RUNNING = "running", "Sending"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs")
    occurrence_at = models.DateTimeField(help_text="The scheduled instant of this run (UTC).")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    paused = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    fanout_cursor = models.BigIntegerField(
        default=0, help_text="Last membership id fanned out, so a crash resumes."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-occurrence_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "occurrence_at"], name="campaignrun_unique_occurrence"
            )
        ]
        indexes = [models.Index(fields=["state"], name="campaignrun_state")]

    def __str__(self) -> str:
        return f"{self.campaign} @ {self.occurrence_at:%Y-%m-%d %H:%M}"
