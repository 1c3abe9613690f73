"""Agents and their keyword rules (M7, V3); threads and the inbox build on them."""

from django.db import models
from django.utils.timezone import now

from accounts.models import Workspace
from contacts.models import WorkspaceQuerySet


class Agent(models.Model):
    """A named persona: its name fills {{agent_name}}, a call speaks its opening message."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=120)
    instructions = models.TextField(blank=True)
    opening_message = models.TextField(blank=True)
    voice = models.CharField(max_length=60, default="Polly.Joanna")
    max_call_seconds = models.PositiveIntegerField(default=300)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class AgentRule(models.Model):
    """An agent's keyword → reply rule (M7): a reply that is exactly `keyword` gets `reply`."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="rules")
    keyword = models.CharField(max_length=40, help_text="Matched case-insensitively, e.g. CONFIRM.")
    reply = models.TextField(help_text="Sent back as SMS; may use {{first_name}} etc.")
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["keyword"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "keyword"], name="agentrule_unique_keyword")
        ]

    def __str__(self) -> str:
        return f"{self.keyword} → {self.reply[:40]}"


class VoiceCall(models.Model):
    """One answered call of a conversing agent (V6): who, how it went, and its turns.

    Created when Twilio first fetches the call's TwiML (the call was answered, by a person or
    a machine); a call nobody answered is only a message (its status and error code say busy,
    no answer or failed).
    """

    class Outcome(models.TextChoices):
        ANSWERED = "answered", "Answered"
        VOICEMAIL = "voicemail", "Voicemail"
        MACHINE = "machine", "Machine, no message left"

    class Ending(models.TextChoices):
        NONE = "", "—"
        DONE = "done", "Agent ended the call"
        OPT_OUT = "opt_out", "Contact asked to stop"
        HANDOFF = "handoff", "Handed to a person"
        NO_SPEECH = "no_speech", "No speech"
        TIME_LIMIT = "time_limit", "Time limit"
        ERROR = "error", "Model error"
        OPTED_OUT = "opted_out", "Contact had opted out"
        HUNG_UP = "hung_up", "Contact hung up"
        VOICEMAIL = "voicemail", "Voicemail left"
        MACHINE = "machine", "Machine"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="voice_calls",
    )
    # The outbox row that placed the call. No database constraint: a campaign's messages are
    # deleted in one statement (campaigns.lifecycle), and the call goes with the campaign.
    message = models.ForeignKey(
        "messaging.Message",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="voice_calls",
    )
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="voice_calls"
    )
    call_sid = models.CharField(max_length=64, unique=True)
    answered_by = models.CharField(max_length=32, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.ANSWERED)
    ending = models.CharField(max_length=12, choices=Ending.choices, blank=True, default="")
    handoff = models.BooleanField(default=False)
    handoff_reason = models.TextField(blank=True)
    silent_turns = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(default=now)
    ended_at = models.DateTimeField(null=True, blank=True)  # None: in progress
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["message"], name="voicecall_message"),
            models.Index(fields=["campaign", "outcome"], name="voicecall_campaign_outcome"),
        ]

    def __str__(self) -> str:
        return f"call {self.call_sid} ({self.outcome})"


class VoiceTurn(models.Model):
    """One exchange of a call: what the contact said (none for the opening) and what the
    agent answered, with the TwiML returned, so a replayed webhook gets the same answer."""

    call = models.ForeignKey(VoiceCall, on_delete=models.CASCADE, related_name="turns")
    number = models.PositiveSmallIntegerField()
    speech = models.TextField(blank=True)
    confidence = models.FloatField(null=True, blank=True)
    reply = models.TextField(blank=True)
    action = models.CharField(max_length=12, blank=True)
    twiml = models.TextField(blank=True)
    received_at = models.DateTimeField(default=now)
    answered_at = models.DateTimeField(null=True, blank=True)
    model_ms = models.PositiveIntegerField(null=True, blank=True)
    tokens = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["call", "number"]
        constraints = [
            models.UniqueConstraint(fields=["call", "number"], name="voiceturn_unique_number")
        ]

    def __str__(self) -> str:
        return f"turn {self.number} of {self.call_id}"
