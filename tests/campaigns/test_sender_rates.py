"""A new sender's rate follows its channel, and the review warns when the sender's limit
makes the sending itself take hours (#14 §5)."""

import json

from django.urls import reverse

from campaigns.estimate import campaign_estimate
from messaging.models import Sender
from messaging.senders import sender_create
from tests.campaigns.helpers import make_campaign, make_group, make_sender


def test_default_rate_follows_the_channel(workspace):
    email = sender_create(workspace=workspace, data={"channel": "email", "address": "a@b.co"})
    sms = sender_create(workspace=workspace, data={"channel": "sms", "address": "+14155550100"})
    assert (email.rate_limit_per_second, sms.rate_limit_per_second) == (10.0, 1.0)
    explicit = sender_create(
        workspace=workspace,
        data={"channel": "email", "address": "c@b.co", "rate_limit_per_second": "0"},
    )
    assert explicit.rate_limit_per_second == 0.0  # 0 still means no limit


def test_sender_form_and_api_leave_the_rate_to_the_channel(client_logged_in, api_client, workspace):
    form = client_logged_in.get(reverse("campaigns:sender-new")).content.decode()
    assert 'name="rate_limit_per_second" value=""' in form
    data = {
        "channel": "email",
        "address": "news@example.com",
        "name": "",
        "rate_limit_per_second": "",
    }
    assert client_logged_in.post(reverse("campaigns:sender-new"), data).status_code == 302
    assert Sender.objects.get(address="news@example.com").rate_limit_per_second == 10.0
    body = {"channel": "email", "address": "api@example.com"}
    created = api_client.post("/api/v1/senders", json.dumps(body), content_type="application/json")
    assert created.json()["rate_limit_per_second"] == 10.0


def test_editing_a_sender_without_a_rate_keeps_its_rate(workspace):
    from messaging.senders import sender_update

    sender = make_sender(workspace, channel="email", address="x@example.com", rate=3.0)
    sender_update(sender=sender, data={"channel": "email", "address": "x@example.com", "name": "X"})
    sender.refresh_from_db()
    assert sender.rate_limit_per_second == 3.0


def test_estimate_is_slow_past_an_hour_of_sending_at_the_senders_limit(workspace):
    campaign = make_campaign(
        workspace, make_group(workspace, 1), sender=make_sender(workspace, rate=1.0)
    )
    slow = campaign_estimate(campaign=campaign, messages=5000)
    assert slow.slow and slow.sending_time == "1h 23m 20s"
    assert not campaign_estimate(campaign=campaign, messages=3000).slow


def test_review_warns_when_the_senders_rate_makes_it_take_hours(client_logged_in, workspace):
    sender = make_sender(workspace, rate=0.001)  # one message every 1,000 s
    campaign = make_campaign(workspace, make_group(workspace, 5), sender=sender)
    review = client_logged_in.get(reverse("campaigns:campaign-build", args=[campaign.pk, "review"]))
    html = review.content.decode()
    assert 'id="rate-warning"' in html and "takes 1h 23m 20s by itself" in html
    Sender.objects.filter(pk=sender.pk).update(rate_limit_per_second=100)
    review = client_logged_in.get(reverse("campaigns:campaign-build", args=[campaign.pk, "review"]))
    assert 'id="rate-warning"' not in review.content.decode()
