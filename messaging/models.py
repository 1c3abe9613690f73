"""Senders, the outbox (one Message per run and contact) and inbound messages (M1-M3)."""

from django.conf import settings
from django.db import models
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils.timezone import now

from accounts.models import Workspace
from contacts.models import WorkspaceQuerySet

PHONE_CHANNELS = ("sms", "voice")


def claim_key(workspace_field: str, number_field: str) -> Concat:
    """`<workspace id>:<number>`: the key a claim is known by, computed in the database."""
    return Concat(Cast(F(workspace_field), output_field=CharField()), Value(":"), F(number_field))


class PhoneNumber(models.Model):
    """A workspace's claim on a phone number: a number belongs to exactly one workspace.

    Every SMS or voice sender points at its number's claim through `key`, and the database
    checks that the key names the sender's own workspace and address, so no number can be a
    sender of two workspaces (SMS and voice on one number stay in one workspace), whoever
    writes the rows. The inbound webhook routes a number to the workspace holding its claim.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="phone_numbers")
    number = models.CharField(max_length=32, unique=True, help_text="E.164.")
    key = models.CharField(max_length=64, unique=True, editable=False)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(key=claim_key("workspace", "number")), name="phone_number_key"
            )
        ]

    def __str__(self) -> str:
        return self.number


class Sender(models.Model):
    """A phone number or an email From identity of the workspace."""

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        VOICE = "voice", "Voice"
        EMAIL = "email", "Email"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="senders")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254, help_text="E.164 number or email address.")
    name = models.CharField(max_length=120, blank=True)
    rate_limit_per_second = models.FloatField(default=1.0)
    # SMS and voice senders only: the workspace's claim on the number (see PhoneNumber).
    claim = models.ForeignKey(
        PhoneNumber,
        to_field="key",
        db_column="claim_key",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="senders",
    )
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["channel", "address"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "channel", "address"], name="sender_unique_address"
            ),
            models.CheckConstraint(
                condition=Q(channel="email", claim__isnull=True)
                | Q(
                    channel__in=PHONE_CHANNELS,
                    claim__isnull=False,
                    claim=claim_key("workspace", "address"),
                ),
                name="sender_number_claimed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


class SenderPace(models.Model):
    """When a sender may next send, shared by every worker process (#12 defect 4).

    Each send reserves the next slot of its sender (`next_at` moves on by 1/rate), so the
    sender's rate holds across all processes and machines, and a provider's 429 for the
    sender pushes `next_at` past its Retry-After for all of them (messaging/throttle.py).
    A row of its own, not a Sender column: the sender form's save() must not write it back.
    """

    sender = models.OneToOneField(
        Sender, primary_key=True, on_delete=models.CASCADE, related_name="pace"
    )
    next_at = models.DateTimeField()

    def __str__(self):
        return f"sender {self.sender_id} next at {self.next_at:%H:%M:%S.%f}"


class Message(models.Model):
    """One outbound message to one contact in one run; the database is the queue's truth."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        UNDELIVERED = "undelivered", "Undelivered"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown (checking with the provider)"
        SKIPPED = "skipped", "Skipped"

    class SkipReason(models.TextChoices):
        OPTED_OUT = "opted_out", "Contact opted out"
        NO_ADDRESS = "no_address", "No address for this channel"
        INVALID = "invalid", "Invalid contact"
        DELETED = "deleted", "Contact deleted"
        CAMPAIGN_STOPPED = "campaign_stopped", "Campaign stopped"
        CAPPED = "capped", "Frequency cap reached"
        BLOCKED = "blocked", "Destination not allowed (country or premium rate)"

    # FK indexes that the composite indexes below already cover are left out, and so are the
    # database constraints: each costs a check on every one of the millions of rows a fan-out
    # inserts (the contact one also locks every contact row), the fan-out takes the ids from
    # rows it has just read, and Django's collector performs their CASCADE / SET_NULL. A
    # contact deleted while its batch is being written can leave a message pointing nowhere:
    # the send skips it like any message whose contact was deleted.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    run = models.ForeignKey(
        "campaigns.CampaignRun",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
        db_constraint=False,
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
        db_constraint=False,
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
        db_constraint=False,
    )
    channel = models.CharField(max_length=10, choices=Sender.Channel.choices)
    to_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    sender = models.ForeignKey(
        Sender,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,  # only deleting a sender (admin) would use it; claims use the pump
        db_constraint=False,
    )
    send_after = models.DateTimeField(default=now)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # A campaign's test send: an email gets the unsubscribe footer and headers as recipients
    # do, with a link that unsubscribes nobody. A database default, so COPY can leave it out.
    is_test = models.BooleanField(default=False, db_default=False)
    error_code = models.CharField(max_length=32, blank=True)
    provider_message_id = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "contact"], name="message_unique_run_contact")
        ]
        indexes = [
            models.Index(
                fields=["status", "send_after"],
                name="message_pump",
                condition=Q(status__in=["queued", "sending", "unknown"]),
            ),
            # In-flight claims (few rows): the tick's back-pressure and per-sender budgets.
            models.Index(
                fields=["lease_expires_at"],
                name="message_leased",
                condition=Q(lease_expires_at__isnull=False),
            ),
            models.Index(
                fields=["provider_message_id"],
                name="message_provider_id",
                condition=~Q(provider_message_id=""),
            ),
            # A campaign's messages (by status), and a run's open ones with its campaign id
            # given; a run's messages alone come from the (run, contact) unique index. One
            # index instead of (campaign, status) and (run, status): a fan-out writes millions.
            models.Index(fields=["campaign", "status", "run"], name="message_campaign_status_run"),
            models.Index(fields=["contact", "-created_at"], name="message_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to_address} ({self.status})"


class InboundMessage(models.Model):
    """A message received from a contact (replies, STOP/START/HELP)."""

    class Action(models.TextChoices):
        NONE = "", "None"
        OPT_OUT = "opt_out", "Opt-out"
        OPT_IN = "opt_in", "Opt-in"
        HELP = "help", "Help"
        AGENT_REPLY = "agent_reply", "Agent reply"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inbound_messages",
    )
    sender = models.ForeignKey(
        Sender, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_messages"
    )
    # SMS (Twilio's webhook) or email (the inbound email webhook): the channel a reply takes.
    channel = models.CharField(
        max_length=10, choices=Sender.Channel.choices, default="sms", db_default="sms"
    )
    from_address = models.CharField(max_length=254)
    to_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True, default="", db_default="")
    body = models.TextField(blank=True)
    # Twilio's MessageSid; for an email "email:" and a hash of its Message-ID (the dedupe key).
    provider_message_id = models.CharField(max_length=64, unique=True)
    # An email's own Message-ID, which a reply to it names in In-Reply-To and References.
    email_message_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    in_reply_to = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    response_seconds = models.PositiveIntegerField(null=True, blank=True)
    action = models.CharField(max_length=12, choices=Action.choices, blank=True, default="")
    received_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-received_at"], name="inbound_ws_received"),
            models.Index(fields=["contact", "-received_at"], name="inbound_contact"),
        ]

    def __str__(self) -> str:
        return f"from {self.from_address}: {self.body[:40]}"


class DailySendCount(models.Model):
    """Messages handed to a provider by a workspace on one day of its time zone: the daily
    send limit's counter (messaging/guards.py), one row per workspace and day."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    sent = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day"], name="daily_send_count_unique")
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day}: {self.sent}"
