"""The dashboard says when the background worker is offline, and stops saying it when it is back."""

from datetime import timedelta

import pytest
from django.utils.timezone import now

from core.heartbeat import TICK, WORKER, heartbeat_record
from core.models import Heartbeat

pytestmark = pytest.mark.e2e


def test_offline_banner_comes_and_goes(logged_in_page, settings, tmp_path):
    settings.HERALD_BACKGROUND_CHECK = True
    page = logged_in_page
    for name in (TICK, WORKER):
        Heartbeat.objects.create(name=name, seen_at=now() - timedelta(minutes=10))
    page.goto(f"{page.base_url}/campaigns/")
    alert = page.get_by_role("alert")
    assert alert.inner_text().startswith("Background worker offline since")
    assert alert.inner_text().endswith("sending and imports are paused")
    page.screenshot(path=tmp_path / "offline-1280.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{page.base_url}/contacts/")
    assert alert.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=tmp_path / "offline-390.png")

    heartbeat_record(name=WORKER)
    page.reload()
    assert alert.inner_text().startswith("Scheduled sending has not run since")  # no beat yet
    heartbeat_record(name=TICK)
    page.reload()
    assert page.get_by_role("alert").count() == 0
