from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from accounts.models import Workspace


class WorkspaceQuerySet(models.QuerySet):
    def for_workspace(self, workspace: Workspace):
        return self.filter(workspace=workspace)


class Tag(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=64)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="tag_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ContactQuerySet(WorkspaceQuerySet):
    def active(self):
        return self.filter(status=Contact.Status.ACTIVE)


class Contact(models.Model):
    """One person, once per workspace, however many groups they are in (C1, C4)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        OPTED_OUT = "opted_out", "Opted out"

    class OptOutReason(models.TextChoices):
        MESSAGE = "message", "Replied STOP"
        BAD_RESPONSE = "bad_response", "Carrier rejection / repeated failures"
        INVALID_CONTACT = "invalid_contact", "Invalid contact"
        MANUAL = "manual", "Opted out manually"
        COMPLAINT = "complaint", "Spam complaint"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed by email link"

    # No index of its own: every contact index starts with the workspace.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="contacts", db_index=False
    )
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254, blank=True, help_text="Stored lower-case.")
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +14155551234")
    company = models.CharField(max_length=200, blank=True)
    timezone = models.CharField(max_length=64, blank=True, help_text="IANA name, e.g. Europe/Paris")
    carrier = models.CharField(max_length=100, blank=True)
    line_type = models.CharField(max_length=30, blank=True)
    is_valid = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    opt_out_reason = models.CharField(max_length=20, choices=OptOutReason.choices, blank=True)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    groups = models.ManyToManyField(
        "ContactGroup", through="GroupMembership", related_name="contacts", blank=True
    )
    created_at = models.DateTimeField(default=now, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Engagement (E4), kept by the engagement app as clicks and conversions are recorded.
    # Database defaults too: the importer's COPY names its columns and leaves these out.
    click_count = models.PositiveIntegerField(default=0, db_default=0)
    last_clicked_at = models.DateTimeField(null=True, blank=True)
    conversion_count = models.PositiveIntegerField(default=0, db_default=0)
    revenue_total = models.DecimalField(max_digits=18, decimal_places=3, default=0, db_default=0)
    last_revenue_at = models.DateTimeField(null=True, blank=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "phone"], name="contact_ws_phone"),
            models.Index(fields=["workspace", "email"], name="contact_ws_email"),
            models.Index(fields=["workspace", "-created_at", "-id"], name="contact_ws_created"),
            # The table's other sorts (name, phone, email, status, each way) walk expression
            # indexes of their own on PostgreSQL: contacts/migrations/0008_sort_indexes.py.
            # The opted-out filter (alone or with a group) in list order, without scanning
            # everyone. Active contacts, nearly all of them, are left out: "active" is served by
            # contact_ws_created, and an import (which only adds active contacts) skips this index.
            models.Index(
                fields=["workspace", "status", "-created_at", "-id"],
                condition=~Q(status="active"),
                name="contact_ws_inactive",
            ),
            # "Clicked in the last N days" and "has converted" (few contacts each): only the
            # contacts that did are indexed, so imports and most contacts never touch them.
            models.Index(
                fields=["workspace", "-last_clicked_at"],
                condition=Q(last_clicked_at__isnull=False),
                name="contact_ws_clicked",
            ),
            models.Index(
                fields=["workspace", "-created_at", "-id"],
                condition=Q(conversion_count__gt=0),
                name="contact_ws_converted",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(phone="") | ~Q(email=""), name="contact_has_phone_or_email"
            ),
            models.CheckConstraint(
                condition=Q(status="active", opt_out_reason="")
                | (Q(status="opted_out") & ~Q(opt_out_reason="")),
                name="contact_opt_out_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_opted_out(self) -> bool:
        return self.status == self.Status.OPTED_OUT


class ContactGroup(models.Model):
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="contact_groups"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="group_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class GroupMembership(models.Model):
    """A contact in a group: when and how they joined (C4)."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Added manually"
        IMPORT = "import", "Imported"
        API = "api", "API"
        INBOUND = "inbound", "Inbound message"

    # Indexed by the two (group, contact) and (contact, group) indexes below, not one each:
    # every index is written for every contact an import adds to a group.
    group = models.ForeignKey(
        ContactGroup, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "contact"], name="membership_unique_contact")
        ]
        indexes = [models.Index(fields=["contact", "group"], name="membership_contact")]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.group_id} ({self.source})"


class ContactEvent(models.Model):
    """Opt-out, opt-in and other status changes, for the activity log (C10, C11)."""

    class Kind(models.TextChoices):
        OPTED_OUT = "opted_out", "Opted out"
        OPTED_IN = "opted_in", "Opted back in"
        CREATED = "created", "Created"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    reason = models.CharField(max_length=20, blank=True)
    detail = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["contact", "-created_at"], name="contactevent_contact")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"


class JobStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """A contacts import: its file, mapping, options, progress and outcome (I5)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV / delimited text"
        XLSX = "xlsx", "Excel"
        VCARD = "vcard", "vCard"

    class DuplicateStrategy(models.TextChoices):
        SKIP = "skip", "Skip (keep the existing contact)"
        UPDATE = "update", "Update the existing contact"
        CREATE = "create", "Create a separate contact anyway"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    group = models.ForeignKey(
        ContactGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_jobs"
    )
    file = models.FileField(upload_to="imports/%Y/%m/", max_length=255)
    original_filename = models.CharField(max_length=255, blank=True)
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.CSV)
    mapping = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    duplicate_strategy = models.CharField(
        max_length=10, choices=DuplicateStrategy.choices, default=DuplicateStrategy.SKIP
    )
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    total_rows = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="Skipped rows with reasons.")
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set when the user (or API/CLI) confirms the mapping; unconfirmed jobs are wizard drafts.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Touched by every committed batch; a running job whose worker died stops moving.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.original_filename})"


class ImportRowError(models.Model):
    """A skipped (invalid) row of an import, kept for the skipped-rows CSV download (I3)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField(help_text="Record number in the file (header = 1).")
    values = models.JSONField(default=list, help_text="The row's original cells.")
    error = models.TextField()

    class Meta:
        ordering = ["job", "row_number"]
        indexes = [models.Index(fields=["job", "row_number"], name="importrowerror_job_row")]

    def __str__(self) -> str:
        return f"Row {self.row_number}: {self.error[:80]}"


class ExportJob(models.Model):
    """A background CSV export of contacts, offered as a download when ready (C8, A4)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="export_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filters = models.JSONField(default=dict, blank=True)
    contact_ids = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    file = models.FileField(upload_to="exports/%Y/%m/", max_length=255, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Export {self.pk}"
