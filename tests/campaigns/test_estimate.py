"""The finish-time estimate (H3): messages at the sender's rate, only while the window is open;
the review and the campaign page show it and warn when a run spills past its first day."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.test import override_settings
from django.urls import reverse

from campaigns.estimate import campaign_estimate, finish_time
from campaigns.lifecycle import campaign_launch
from campaigns.scheduling import ALWAYS, Window
from tests.campaigns.helpers import make_campaign, make_group, make_sender

NY = ZoneInfo("America/New_York")
OFFICE = Window(8, 21, ())


def _ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


def test_a_run_inside_the_window_finishes_the_same_day():
    first, last, spills = finish_time(
        messages=100, start=_ny(2026, 3, 4, 9), rate=1.0, window=OFFICE, zone="America/New_York"
    )
    assert (first, last, spills) == (_ny(2026, 3, 4, 9), _ny(2026, 3, 4, 9, 1, 40), False)


def test_a_run_that_does_not_fit_goes_on_when_the_window_opens_again():
    # 20:00-21:00 sends 3,600; the remaining 46,400 s of sending fit in the next day's window.
    first, last, spills = finish_time(
        messages=50_000, start=_ny(2026, 3, 4, 20), rate=1.0, window=OFFICE, zone="America/New_York"
    )
    assert first == _ny(2026, 3, 4, 20)
    assert last == _ny(2026, 3, 5, 20, 53, 20) and spills


def test_a_start_before_the_window_waits_and_excluded_days_are_skipped():
    weekdays = Window(8, 21, ("Saturday",))
    # Friday 2026-03-06 20:30: 1,800 go before 21:00, the rest on Sunday from 08:00.
    first, last, spills = finish_time(
        messages=3_600,
        start=_ny(2026, 3, 6, 20, 30),
        rate=1.0,
        window=weekdays,
        zone="America/New_York",
    )
    assert last == _ny(2026, 3, 8, 8, 30) and spills
    first, _, _ = finish_time(
        messages=1, start=_ny(2026, 3, 7, 6), rate=1.0, window=weekdays, zone="America/New_York"
    )
    assert first == _ny(2026, 3, 8, 8)


def test_an_open_window_is_messages_over_rate():
    start = datetime(2026, 3, 4, 12, tzinfo=UTC)
    first, last, spills = finish_time(
        messages=36_000, start=start, rate=10.0, window=ALWAYS, zone="UTC"
    )
    assert (first, last, spills) == (start, start + timedelta(hours=1), False)


@override_settings(HERALD_ESTIMATE_SEND_RATE=4.0)
def test_campaign_rate_is_its_senders_limit_else_the_assumed_rate(workspace):
    group = make_group(workspace, 1)
    limited = make_campaign(workspace, group, sender=make_sender(workspace, rate=2.0))
    estimate = campaign_estimate(campaign=limited, messages=20, start=_ny(2026, 3, 4, 9))
    assert (estimate.rate, estimate.rate_assumed, estimate.hours) == (2.0, False, 10 / 3600)
    free_sender = make_sender(workspace, address="+14155550101", rate=0.0)
    free = make_campaign(workspace, group, name="Free", sender=free_sender)
    estimate = campaign_estimate(campaign=free, messages=20, start=_ny(2026, 3, 4, 9))
    assert (estimate.rate, estimate.rate_assumed) == (4.0, True)
    assert campaign_estimate(campaign=free, messages=0) is None


def test_review_and_campaign_page_show_the_finish_and_warn_when_it_spills(
    client_logged_in, workspace
):
    group = make_group(workspace, 5)
    slow = make_sender(workspace, rate=0.001)  # 1,000 s a message: 5,000 s, the window is 1 h
    campaign = make_campaign(workspace, group, sender=slow, window_start_hour=8, window_end_hour=9)
    review = client_logged_in.get(reverse("campaigns:campaign-build", args=[campaign.pk, "review"]))
    html = review.content.decode()
    assert "Expected finish" in html and 'id="finish-estimate"' in html
    assert 'id="finish-warning"' in html and "at 3.6 an hour" in html

    fast = make_sender(workspace, address="+14155550102", rate=50)
    quick = make_campaign(workspace, group, name="Quick", sender=fast)
    html = client_logged_in.get(
        reverse("campaigns:campaign-build", args=[quick.pk, "review"])
    ).content.decode()
    assert 'id="finish-estimate"' in html and 'id="finish-warning"' not in html

    campaign_launch(campaign=quick)
    page = client_logged_in.get(reverse("campaigns:campaign-detail", args=[quick.pk]))
    assert "Expected to finish" in page.content.decode()


def test_a_run_longer_than_a_year_says_so():
    start = _ny(2026, 3, 4, 9)
    first, last, spills = finish_time(
        messages=10**9, start=start, rate=1.0, window=OFFICE, zone="America/New_York"
    )
    assert first == start and last is None and spills
