"""Celery tasks of the outbox: thin wrappers that take ids and call messaging's services."""

import time

from celery import shared_task
from django.conf import settings

from .outbox import outbox_claim
from .sending import outbox_send


@shared_task(name="messaging.tasks.send_batch", ignore_result=True, acks_late=True)
def send_batch(message_ids: list[int]) -> None:
    """Send a claimed batch, then keep claiming and sending for a while (work stealing).

    Idempotent: a message is sent only by the task that moves it from queued to sending, so a
    redelivered task finds nothing left to do.
    """
    outbox_send(message_ids=message_ids)
    deadline = time.monotonic() + settings.HERALD_SEND_LOOP_SECONDS
    while time.monotonic() < deadline:
        ids = outbox_claim(limit=settings.HERALD_SEND_BATCH)
        if not ids:
            return
        outbox_send(message_ids=ids)
