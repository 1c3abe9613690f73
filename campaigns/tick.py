"""The engine's heartbeat (K7, M2): one pass starts due runs, fans them out, and pumps the outbox
(and adds the clicks since the last pass to their contacts' counts).

The beat runs it every HERALD_TICK_SECONDS (campaigns.tasks.tick); `manage.py tick` and tests
run it with the sending inline.
"""

import logging
from contextlib import contextmanager

from django.db import connection

from engagement.clicks import contact_clicks_count
from messaging.outbox import outbox_pump, outbox_reconcile, outbox_sweep

from .fanout import run_fan_out
from .lifecycle import run_fail, runs_complete_finished, runs_start_due
from .models import CampaignRun

logger = logging.getLogger("herald.outbox")

TICK_LOCK_KEY = 0x4E52414C44  # "HERALD"-ish: the PostgreSQL advisory lock of the tick


@contextmanager
def tick_lock():
    """One tick at a time across all workers (PostgreSQL advisory lock); yields False if busy."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [TICK_LOCK_KEY])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [TICK_LOCK_KEY])


def tick(*, dispatch=None, fanout_budget: float = 10.0, send_inline: bool = False) -> dict:
    """One pass of the engine. `dispatch(ids)` hands a claimed batch to a send task; with
    send_inline the batches are sent here until nothing is due (manage.py tick, tests)."""
    with tick_lock() as got:
        if not got:
            return {"skipped": "another tick is running"}
        report: dict = {"swept": outbox_sweep(), "started": runs_start_due()}
        _fan_out_pending(None if send_inline else fanout_budget)
        try:
            report["reconciled"] = outbox_reconcile()
        except Exception:  # the pump and completion must run whatever reconciliation hit
            logger.exception("reconciliation failed; sending goes on")
            report["reconciled"] = 0
        report["sent"] = outbox_pump(dispatch=dispatch, send_inline=send_inline)
        report["completed"] = runs_complete_finished()
        try:  # the people's clicks since the last tick, on their contacts' counts
            report["clicks_counted"] = contact_clicks_count()
        except Exception:
            logger.exception("counting clicks on contacts failed; they wait for the next tick")
            report["clicks_counted"] = 0
    return report


def _fan_out_pending(budget: float | None) -> None:
    fanning = CampaignRun.objects.filter(
        state__in=[CampaignRun.State.PENDING, CampaignRun.State.FANNING_OUT], paused=False
    ).values_list("id", flat=True)
    for run_id in list(fanning):
        try:
            run_fan_out(run_id=run_id, time_budget=budget)
        except Exception as exc:  # a bug or bad data must not stop every other campaign
            logger.exception("fan-out of run %s failed", run_id)
            run_fail(run_id=run_id, reason=f"Preparing the messages failed: {exc}")
