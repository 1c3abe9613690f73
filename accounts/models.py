import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils.timezone import now


class Workspace(models.Model):
    """Owns everything: contacts, groups, campaigns, messages, API keys, senders (W1)."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    default_region = models.CharField(
        max_length=2, default="US", help_text="Region used to read national phone numbers."
    )
    timezone = models.CharField(max_length=64, default="America/New_York")
    members_can_delete = models.BooleanField(
        default=True, help_text="Let members (not only owners and admins) delete contacts."
    )
    quiet_start_hour = models.PositiveSmallIntegerField(default=8)
    quiet_end_hour = models.PositiveSmallIntegerField(default=21)
    # Conversion attribution (E3): the last click this recent, else the last delivered message.
    click_window_days = models.PositiveSmallIntegerField(
        default=5, help_text="A conversion is credited to the contact's last click this recent."
    )
    delivered_window_hours = models.PositiveSmallIntegerField(
        default=24,
        help_text="Without such a click, to the last message delivered this recent.",
    )
    # Frequency cap (H3): at most this many campaign messages per contact per period, across
    # campaigns (replies of agents and people are not campaign messages). None: no cap.
    frequency_cap = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="At most this many campaign messages per contact (blank: no limit)…",
    )
    frequency_cap_hours = models.PositiveSmallIntegerField(
        default=24, help_text="…in this many hours, across all campaigns."
    )
    currency = models.CharField(
        max_length=3, default="USD", help_text="ISO 4217 code that revenue is reported in."
    )
    # Sending abuse controls (SMS pumping, toll fraud): where SMS and calls may go, and how many
    # messages a day the workspace may send (messaging/guards.py).
    send_countries = models.CharField(
        max_length=600,
        blank=True,
        help_text="Countries SMS and calls may go to, as ISO codes (e.g. “US CA”); blank: "
        "only the default country. Premium-rate and shared-cost numbers are always refused.",
    )
    daily_send_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="At most this many messages a day, in the workspace's time zone (blank: no "
        "limit). Reaching it pauses the sending campaigns and says why.",
    )
    # The agents' AI budget (issue 15): tokens a day, in the workspace's time zone, past which
    # its agents hand every conversation and call to a person. None: HERALD_LLM_DAILY_TOKENS.
    ai_daily_tokens = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Tokens the agents may spend a day (in the workspace's time zone) before they "
        "hand conversations to a person; blank: the server's default.",
    )
    # Signs the inbound email webhook's requests (messaging/webhooks.py); blank: the
    # workspace takes no inbound email. Set and rotated on the settings page.
    inbound_email_secret = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def send_regions(self) -> frozenset[str]:
        """The regions SMS and calls may go to: `send_countries`, else the default region."""
        return frozenset(self.send_countries.split() or [self.default_region.upper()])


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"

    @property
    def is_manager(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)

    @property
    def can_delete_contacts(self) -> bool:
        return self.is_manager or self.workspace.members_can_delete


class ApiKeyQuerySet(models.QuerySet):
    def for_workspace(self, workspace: Workspace) -> "ApiKeyQuerySet":
        return self.filter(workspace=workspace)

    def active(self) -> "ApiKeyQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A bearer key for the JSON API (W4). Only a SHA-256 of the secret is stored."""

    PREFIX = "hk_"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="First characters, to recognise the key.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class InvitationQuerySet(models.QuerySet):
    def for_workspace(self, workspace: Workspace) -> "InvitationQuerySet":
        return self.filter(workspace=workspace)

    def open(self) -> "InvitationQuerySet":
        """Neither accepted nor revoked (an expired one may still be re-sent)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)


class Invitation(models.Model):
    """An email address asked to join a workspace with a role (issue 14 §5).

    The link carries a signed secret; only its SHA-256 is stored, so the link is shown
    nowhere but in the email. Re-sending replaces the secret (the old link stops working)
    and starts the validity again; accepting or revoking ends it.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254, help_text="Stored lower-case.")
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    sent_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.workspace} ({self.role})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= now()
