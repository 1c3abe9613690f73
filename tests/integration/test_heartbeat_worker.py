"""A real Celery worker records that it is alive, again and again (config/celery.py)."""

import time

import pytest

from core.heartbeat import WORKER
from core.models import Heartbeat

pytestmark = pytest.mark.integration


def _wait_for_beats(count: int, timeout: float = 60) -> list:
    seen = []
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        assert time.monotonic() < deadline, f"worker heartbeats seen: {seen}"
        row = Heartbeat.objects.filter(name=WORKER).first()
        if row is not None and row.seen_at not in seen:
            seen.append(row.seen_at)
        time.sleep(0.1)
    return seen


def test_worker_records_its_heartbeat(celery_worker):
    assert not Heartbeat.objects.filter(name=WORKER).exists()
    celery_worker(env={"HERALD_HEARTBEAT_SECONDS": "0.5"})
    first, second, third = _wait_for_beats(3)
    assert first < second < third
