"""Smart groups: saved filters over a workspace's contacts (G1-G4)."""

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from accounts.models import Workspace
from contacts.models import WorkspaceQuerySet


class SmartGroup(models.Model):
    """A named definition: conditions on contacts combined with all/any, plus excluded groups.

    The definition is stored as the API receives it (`definition.py` checks it on every write
    and reads it again when it is compiled), so the API and the editor round-trip it exactly.
    """

    class Match(models.TextChoices):
        ALL = "all", "All conditions"
        ANY = "any", "Any condition"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="smart_groups")
    name = models.CharField(max_length=120)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    conditions = models.JSONField(default=list, blank=True)
    exclude_group_ids = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="smartgroup_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def definition(self) -> dict:
        return {
            "match": self.match,
            "conditions": self.conditions,
            "exclude_group_ids": self.exclude_group_ids,
        }
