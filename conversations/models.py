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
