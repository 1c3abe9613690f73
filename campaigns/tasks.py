"""Celery tasks of the campaign engine: thin wrappers around campaigns.tick."""

from celery import shared_task

from core.heartbeat import TICK, heartbeat_record
from messaging.tasks import send_batch

from . import tick as engine


@shared_task(name="campaigns.tasks.tick", ignore_result=True)
def tick() -> None:
    """The beat's heartbeat: sweep, start due runs, fan out, reconcile, dispatch, complete.

    Locked against overlap (advisory lock); a tick that finds the lock taken does nothing.
    """
    engine.tick(dispatch=lambda ids: send_batch.delay(ids))
    heartbeat_record(name=TICK, every=10)  # pages say when the background stops
