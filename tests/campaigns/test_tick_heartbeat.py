"""The tick task records the background heartbeat that pages and /healthz read."""

from campaigns.tasks import tick
from core import heartbeat
from core.heartbeat import TICK
from core.models import Heartbeat


def test_tick_records_that_it_ran(db, monkeypatch):
    monkeypatch.setattr(heartbeat, "_recorded", {})  # this process wrote no heartbeat yet
    assert not Heartbeat.objects.filter(name=TICK).exists()
    tick()
    assert heartbeat.background_status().tick_at is not None
