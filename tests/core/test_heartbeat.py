"""The background heartbeat: recorded by the tick and the workers, shown on every dashboard
page and by /healthz when nothing has been seen for a while."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils.timezone import now

from core.heartbeat import (
    TICK,
    WORKER,
    BackgroundStatus,
    background_alert,
    background_status,
    heartbeat_record,
)
from core.models import Heartbeat
from tests.pages import World, dashboard_urls

OFFLINE = "Background worker offline since"
PAUSED = "sending and imports are paused"


@pytest.fixture
def checked(settings):
    settings.HERALD_BACKGROUND_CHECK = True
    settings.HERALD_BACKGROUND_STALE_SECONDS = 120


def _seen(name: str, ago: timedelta) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": now() - ago})


def _status(tick=None, worker=None) -> BackgroundStatus:
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    return BackgroundStatus(
        tick_at=tick and at - tick,
        worker_at=worker and at - worker,
        checked_at=at,
        stale_after=timedelta(minutes=2),
    )


def test_record_upserts_one_row_per_name(db):
    heartbeat_record(name=TICK)
    first = Heartbeat.objects.get(name=TICK).seen_at
    heartbeat_record(name=TICK)
    assert Heartbeat.objects.filter(name=TICK).count() == 1
    assert Heartbeat.objects.get(name=TICK).seen_at >= first


def test_record_with_every_writes_at_most_that_often(db):
    heartbeat_record(name=WORKER)
    Heartbeat.objects.filter(name=WORKER).update(seen_at=now() - timedelta(hours=1))
    heartbeat_record(name=WORKER, every=3600)  # this process wrote it just now: skipped
    assert now() - Heartbeat.objects.get(name=WORKER).seen_at > timedelta(minutes=59)
    heartbeat_record(name=WORKER, every=0)
    assert now() - Heartbeat.objects.get(name=WORKER).seen_at < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("tick", "worker", "offline", "tick_late"),
    [
        (None, None, True, False),  # never seen
        (timedelta(seconds=5), None, False, False),
        (None, timedelta(seconds=5), False, True),  # a worker but no beat
        (timedelta(minutes=5), timedelta(seconds=30), False, True),  # worker busy, no tick
        (timedelta(minutes=5), timedelta(minutes=3), True, False),
        (timedelta(minutes=2), None, False, False),  # the boundary is still fresh
    ],
)
def test_status_rules(tick, worker, offline, tick_late):
    status = _status(tick, worker)
    assert (status.offline, status.tick_late, status.ok) == (
        offline,
        tick_late,
        not offline and not tick_late,
    )


def test_alert_names_the_time_in_the_workspace_zone():
    status = _status(tick=timedelta(minutes=10), worker=timedelta(minutes=7))
    new_york = ZoneInfo("America/New_York")
    assert background_alert(status, new_york) == f"{OFFLINE} 09:53 EST — {PAUSED}"
    yesterday = _status(worker=timedelta(days=1))
    assert "Mar 1, 10:00 EST" in background_alert(yesterday, new_york)
    assert background_alert(_status(), new_york).startswith("Background worker not running")
    assert background_alert(_status(tick=timedelta(seconds=1)), new_york) == ""


def test_every_dashboard_page_says_the_worker_is_offline(
    checked, client_logged_in, workspace, settings
):
    workspace.timezone = "America/New_York"
    workspace.save()
    _seen(TICK, timedelta(minutes=9))
    _seen(WORKER, timedelta(minutes=5))
    since = (now() - timedelta(minutes=5)).astimezone(ZoneInfo("America/New_York"))
    expected = f"{OFFLINE} {since:%H:%M} {since:%Z} — {PAUSED}"
    shown = []
    urls, _ = dashboard_urls(World())  # the pages that take no argument (new ones included)
    for url in urls:
        response = client_logged_in.get(url)
        if response.status_code != 200 or response.streaming:
            continue  # an action (POST only), a download
        html = response.content.decode()
        if 'class="topbar"' not in html:
            continue  # a fragment
        assert expected in html, url
        shown.append(url)
    assert {"/contacts/", "/campaigns/", "/workspace/settings/", "/contacts/import/"} <= set(shown)

    heartbeat_record(name=WORKER)
    for url in shown:
        assert OFFLINE not in client_logged_in.get(url).content.decode(), url


def test_no_banner_when_the_check_is_off(client_logged_in, settings):
    settings.HERALD_BACKGROUND_CHECK = False
    assert "Background worker" not in client_logged_in.get("/contacts/").content.decode()


def test_htmx_fragments_do_not_read_the_heartbeat(
    checked, client_logged_in, django_assert_max_num_queries
):
    client_logged_in.get("/contacts/")  # warm up the session
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "contact-table"}
    with django_assert_max_num_queries(50) as captured:
        client_logged_in.get("/contacts/", **headers)
    assert not any("core_heartbeat" in q["sql"] for q in captured.captured_queries)


def test_healthz_reports_the_background(checked, client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content.decode().startswith("ok\nbackground: offline: Background worker not")
    assert client.get("/healthz/background").status_code == 503

    _seen(TICK, timedelta(minutes=10))
    _seen(WORKER, timedelta(minutes=4))
    body = client.get("/healthz").content.decode()
    assert f"background: offline: {OFFLINE}" in body and "last seen: tick " in body
    assert client.get("/healthz/background").status_code == 503

    heartbeat_record(name=TICK)
    body = client.get("/healthz").content.decode()
    assert body.startswith("ok\nbackground: ok (last seen: tick ")
    background = client.get("/healthz/background")
    assert background.status_code == 200 and background.content.decode().startswith("ok")
    assert "no-cache" in background["Cache-Control"]


def test_healthz_says_when_only_the_tick_is_late(checked, client, db):
    _seen(TICK, timedelta(minutes=10))
    heartbeat_record(name=WORKER)
    body = client.get("/healthz/background")
    assert body.status_code == 503
    assert body.content.decode().startswith("tick late: Scheduled sending has not run since")


def test_status_reads_both_rows(db):
    _seen(TICK, timedelta(seconds=1))
    status = background_status()
    assert status.tick_at is not None and status.worker_at is None and status.ok
