"""The delivery chart of a small campaign sent in under a second spans what happened, not a
padded second (#14 §5)."""

from datetime import timedelta

from django.utils import timezone

from campaigns.selectors import _campaign_chart
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group


def test_small_fast_campaign_chart_spans_its_own_time(workspace):
    campaign = make_campaign(workspace, make_group(workspace, 3))
    t0 = timezone.now()
    for i in range(3):
        Message.objects.create(
            workspace=workspace,
            campaign=campaign,
            channel="sms",
            to_address=f"+1415555000{i}",
            body="Hi",
            status="delivered",
            sent_at=t0 + timedelta(milliseconds=10 * i),
            delivered_at=t0 + timedelta(milliseconds=300 + 10 * i),
        )
    chart = _campaign_chart(campaign, 640, 180, 24)
    assert chart["top"] == 3 and chart["totals"]["Delivered"] == 3
    series = {s.name: s.points for s in chart["series"]}
    assert series["Sent"][1] == (26.7, 60.0)  # 2 of 3 sent in the first 24th, not all 3
    reached = [x for x, y in series["Delivered"] if y == 0.0]
    assert reached[0] > 0.9 * 640  # deliveries at the end of the span, where they happened
    assert chart["end"] - chart["start"] == timedelta(milliseconds=320)


def test_campaign_sent_in_one_instant_still_draws(workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1))
    now = timezone.now()
    Message.objects.create(
        workspace=workspace,
        campaign=campaign,
        channel="sms",
        to_address="+14155550000",
        body="Hi",
        status="sent",
        sent_at=now,
    )
    chart = _campaign_chart(campaign, 640, 180, 24)
    assert chart["totals"]["Sent"] == 1
    assert {s.name: s.points for s in chart["series"]}["Sent"][-1] == (640.0, 0.0)
