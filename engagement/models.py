"""Tracked links, their clicks and conversions (E1-E3)."""

from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from accounts.models import Workspace
from contacts.models import WorkspaceQuerySet

from .codes import CODE_LENGTH


class CodeField(models.CharField):
    """A link code's column. On PostgreSQL `char(12) COLLATE "C"`: compared byte by byte (codes
    are ASCII and case matters), and, not being varchar, without the second `_like` index
    Django adds to an indexed varchar for LIKE queries, which no one runs on codes."""

    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return f'char({self.max_length}) COLLATE "C"'
        return super().db_type(connection)


class TrackedLink(models.Model):
    """One URL of one recipient's message: `/l/<code>` redirects to `url` (E1).

    A fan-out writes one row per URL and recipient, so the row is kept small: the code is the
    primary key (the redirect's one indexed lookup, no second unique index to write), and
    the workspace, contact, campaign and run come from the message when a click is stored.
    """

    code = CodeField(primary_key=True, max_length=CODE_LENGTH)
    # No database constraint, like the message's own: the fan-out writes both in one
    # transaction. On PostgreSQL a BRIN index (migration 0003), for deleting a campaign's
    # links: the fan-out writes them in message order, so a block range's summary is a
    # narrow span of messages, and a link adds no index entry as a B-tree's would.
    message = models.ForeignKey(
        "messaging.Message",
        on_delete=models.CASCADE,
        related_name="links",
        db_index=False,
        db_constraint=False,
    )
    url = models.TextField()

    class Meta:
        ordering = ["message", "code"]

    def __str__(self) -> str:
        return f"{self.code} → {self.url[:60]}"


class Click(models.Model):
    """A request for a tracked link (E2). Only `human` clicks are counted; the others are
    link previews, prefetches and scanners, kept to show what happened (README: clicks)."""

    class Kind(models.TextChoices):
        HUMAN = "human", "Click"
        BOT = "bot", "Bot or link preview"
        HEAD = "head", "Prefetch (HEAD)"
        SCANNER = "scanner", "Email security scanner"

    # Written in batches off the redirect's path, so no constraint checks; the ids come
    # from the link and its message, read in the same batch.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    link = models.ForeignKey(
        TrackedLink,
        on_delete=models.DO_NOTHING,  # deleted with the campaign, below
        related_name="clicks",
        db_index=False,
        db_constraint=False,
    )
    message = models.ForeignKey(
        "messaging.Message",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # led by the metrics index
        db_constraint=False,
    )
    run = models.ForeignKey(
        "campaigns.CampaignRun",
        null=True,
        on_delete=models.DO_NOTHING,  # runs are deleted with their campaign
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        on_delete=models.SET_NULL,  # the campaign keeps its clicks
        related_name="clicks",
        db_index=False,  # led by the activity index
        db_constraint=False,
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    clicked_at = models.DateTimeField(default=now)
    user_agent = models.CharField(max_length=512, blank=True)
    ip_hash = models.CharField(max_length=32, blank=True, help_text="Keyed hash of the address.")

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-clicked_at", "-id"]
        indexes = [
            # A campaign's (and run's) clicks and unique clickers.
            models.Index(fields=["campaign", "run", "contact"], name="click_campaign"),
            # A contact's activity and the conversion's "last click in the window".
            models.Index(fields=["contact", "-clicked_at"], name="click_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.link_id} at {self.clicked_at:%Y-%m-%d %H:%M}"

    @property
    def counted(self) -> bool:
        return self.kind == self.Kind.HUMAN


class ClickToCount(models.Model):
    """A person's click not yet added to its contact's click_count and last_clicked_at.

    The redirect's click only inserts rows (this one beside the Click): a contact's row has
    ten indexes, two of them trigram GINs, and last_clicked_at is in one, so each update
    writes them all (80-140 µs of PostgreSQL CPU a contact, measured; about half its work
    per redirect). The tick adds these to the contacts a batch at a time and deletes them
    (clicks.contact_clicks_count). No constraint and no index but the key: a queue.
    """

    contact_id = models.BigIntegerField()
    clicked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"contact {self.contact_id} at {self.clicked_at:%Y-%m-%d %H:%M}"


class Conversion(models.Model):
    """Something a contact did that the workspace values, reported through the API (E3)."""

    class AttributedTo(models.TextChoices):
        CLICK = "click", "Last click"
        DELIVERED = "delivered", "Last delivered message"
        NONE = "", "Not attributed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        "contacts.Contact", null=True, on_delete=models.SET_NULL, related_name="conversions"
    )
    name = models.CharField(max_length=100)
    revenue = models.DecimalField(max_digits=18, decimal_places=3, default=0)
    currency = models.CharField(max_length=3)
    occurred_at = models.DateTimeField()
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    attributed_to = models.CharField(
        max_length=10, choices=AttributedTo.choices, blank=True, default=""
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # led by the metrics index
    )
    run = models.ForeignKey(
        "campaigns.CampaignRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        "messaging.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="conversion_unique_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(revenue__gte=0), name="conversion_revenue_gte_0"),
        ]
        indexes = [
            models.Index(fields=["campaign", "run"], name="conversion_campaign"),
            models.Index(fields=["contact", "-occurred_at"], name="conversion_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.revenue} {self.currency})"
