from django.db import models


class Heartbeat(models.Model):
    """When a background process was last seen: "tick" (the beat-driven tick ran) and
    "worker" (a Celery worker process was alive). One row each, written by whoever is alive."""

    name = models.CharField(max_length=20, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} seen at {self.seen_at:%Y-%m-%d %H:%M:%S}"
