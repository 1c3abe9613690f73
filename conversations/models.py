"""Agents and their keyword rules (M7, V3), and the conversations they and people hold (V1).

A conversation is one contact's thread in a workspace (whatever the channel: the thread's
`channel` is the one a reply goes out on, the latest the contact used). Its turns are
`ConversationMessage` rows: the contact's inbound messages, campaign messages they answered,
agent and staff replies, opt-out events and a call's transcript lines, each linked to
messaging's outbound or inbound row where there is one (unique, so linking twice is a no-op).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
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
    # What a call speaks and listens in (BCP-47): <Say> and <Gather>'s speech recognition.
    language = models.CharField(max_length=20, default="en-US")
    # Words and phrases a caller may say (names, products, places), one per line: a call's
    # <Gather hints>, with the contact's name, so speech recognition expects them.
    speech_hints = models.TextField(blank=True)
    knowledge = models.TextField(blank=True, help_text="Facts, prices, dates the agent may use.")
    goal = models.CharField(max_length=1000, blank=True)
    handoff_rules = models.TextField(blank=True)
    max_turns = models.PositiveSmallIntegerField(
        default=10, help_text="Agent replies per conversation before a person takes over."
    )
    max_reply_segments = models.PositiveSmallIntegerField(
        default=2, help_text="Longest SMS reply, in segments (160 GSM characters each)."
    )
    model = models.CharField(
        max_length=120, blank=True, help_text="Overrides HERALD_LLM_MODEL for this agent."
    )
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


class Conversation(models.Model):
    """One contact's two-way thread (V1): who answers it now, who is assigned, what is new."""

    class Status(models.TextChoices):
        AGENT = "agent", "Agent handling"
        HUMAN = "human", "Needs a human"
        CLOSED = "closed", "Closed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="conversations"
    )
    channel = models.CharField(max_length=10, default="sms")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.AGENT)
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    sender = models.ForeignKey(
        "messaging.Sender", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    handoff_reason = models.CharField(max_length=500, blank=True)
    handoffs = models.PositiveIntegerField(default=0)
    unread = models.BooleanField(default=False)
    last_activity_at = models.DateTimeField(default=now)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    preview = models.CharField(max_length=160, blank=True)
    # Debounce (V4): each inbound that the agent should answer bumps `generation`; a task
    # answers only the generation it was queued for, and AgentAnswer is unique on it.
    generation = models.PositiveIntegerField(default=0)
    waiting_since = models.DateTimeField(null=True, blank=True)
    agent_replies = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "contact"], name="conversation_unique_contact"
            )
        ]
        indexes = [
            # The inbox: newest first per workspace, keyset on (last_activity_at, id), and the
            # same per status (needs a human, agent handling, closed).
            models.Index(fields=["workspace", "-last_activity_at", "-id"], name="conv_ws_activity"),
            models.Index(
                fields=["workspace", "status", "-last_activity_at", "-id"],
                name="conv_ws_status_activity",
            ),
            models.Index(
                fields=["assignee", "-last_activity_at", "-id"],
                name="conv_assignee_activity",
                condition=Q(assignee__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.pk} ({self.status})"


class ConversationMessage(models.Model):
    """One turn of a conversation, in time order."""

    class Direction(models.TextChoices):
        INBOUND = "in", "From the contact"
        OUTBOUND = "out", "To the contact"
        EVENT = "event", "Event"

    class Author(models.TextChoices):
        CONTACT = "contact", "Contact"
        CAMPAIGN = "campaign", "Campaign"
        AGENT = "agent", "Agent"
        STAFF = "staff", "Staff"
        SYSTEM = "system", "System"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    direction = models.CharField(max_length=5, choices=Direction.choices)
    author = models.CharField(max_length=8, choices=Author.choices)
    channel = models.CharField(max_length=10, default="sms")
    body = models.TextField(blank=True)
    message = models.OneToOneField(
        "messaging.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversation_turn",
        db_constraint=False,  # messages are deleted in bulk with their campaign
    )
    inbound = models.OneToOneField(
        "messaging.InboundMessage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversation_turn",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at", "id"], name="turn_thread")]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"


class AgentAnswer(models.Model):
    """The agent's answer to one burst (V4): unique on (conversation, generation), so a retried
    or duplicated task, or a second worker, can never answer the same burst twice. It records
    what the answer cost (tokens, latency) and what the model decided."""

    class Outcome(models.TextChoices):
        REPLY = "reply", "Replied"
        HANDOFF = "handoff", "Handed off"
        END = "end", "Ended"
        OPT_OUT = "opt_out", "Opted out"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="answers")
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="answers"
    )
    generation = models.PositiveIntegerField()
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    model = models.CharField(max_length=120, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "generation"], name="agentanswer_unique_burst"
            )
        ]
        indexes = [models.Index(fields=["workspace", "created_at"], name="agentanswer_ws_day")]

    def __str__(self) -> str:
        return f"{self.outcome} ({self.total_tokens} tokens)"


class ConsoleAnswer(models.Model):
    """A model call of an agent's test console (V3). The chat itself is not kept; what it cost
    is, so the console spends the workspace's daily AI budget as real answers do."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    total_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "created_at"], name="consoleanswer_ws_day")]

    def __str__(self) -> str:
        return f"console ({self.total_tokens} tokens)"


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
    # The contact's thread, which holds the call's transcript as voice turns.
    conversation = models.ForeignKey(
        "Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="voice_calls",
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
        # The day's tokens of a workspace (its daily AI budget) read only the turns that cost.
        indexes = [
            models.Index(
                fields=["received_at"], name="voiceturn_tokens", condition=models.Q(tokens__gt=0)
            )
        ]

    def __str__(self) -> str:
        return f"turn {self.number} of {self.call_id}"
