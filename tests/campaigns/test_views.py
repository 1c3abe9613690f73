"""Campaign pages through the test client: builder steps, launch, live partial, CSV, senders."""

import pytest
from django.urls import reverse

from campaigns import tick as engine
from campaigns.models import Campaign
from messaging.models import Sender
from tests.campaigns.helpers import make_campaign, make_group
from tests.factories import WorkspaceFactory


def test_builder_walks_all_steps_and_launches(client_logged_in, workspace):
    group = make_group(workspace, 3)
    response = client_logged_in.post(reverse("campaigns:campaign-new"), {"group": group.pk})
    campaign = Campaign.objects.get()
    assert response.url == reverse("campaigns:campaign-build", args=[campaign.pk, "channel"])
    steps = [
        ("channel", {"channel": "sms"}),
        ("message", {"message_template": "Hi {{first_name}} {{nickname}}"}),
        ("settings", {"name": "Promo", "max_retries": "1", "retry_interval": "60"}),
        (
            "schedule",
            {"when": "now", "timezone": "UTC", "window_start_hour": "0", "window_end_hour": "24"},
        ),
    ]
    for step, data in steps:
        response = client_logged_in.post(
            reverse("campaigns:campaign-build", args=[campaign.pk, step]), data
        )
        assert response.status_code == 302, (step, response.content[:3000])
    review = client_logged_in.get(reverse("campaigns:campaign-build", args=[campaign.pk, "review"]))
    html = review.content.decode()
    assert "3 contacts have no <code>nickname</code>" in html
    assert "Hi Ann0" in html
    response = client_logged_in.post(reverse("campaigns:campaign-launch", args=[campaign.pk]))
    assert response.status_code == 302
    assert Campaign.objects.get().state == Campaign.State.RUNNING


def test_builder_step_shows_errors_and_saves_nothing(client_logged_in, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1), message_template="Old")
    response = client_logged_in.post(
        reverse("campaigns:campaign-build", args=[campaign.pk, "schedule"]),
        {
            "when": "now",
            "timezone": "Mars/Olympus",
            "window_start_hour": "9",
            "window_end_hour": "9",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Unknown time zone" in html and "end hour must be after" in html
    campaign.refresh_from_db()
    assert campaign.timezone == "America/New_York"


def test_review_warns_about_skipped_contacts(client_logged_in, workspace):
    group = make_group(workspace, 3)
    group.contacts.filter(pk=group.contacts.first().pk).update(
        status="opted_out", opt_out_reason="manual"
    )
    campaign = make_campaign(workspace, group)
    html = client_logged_in.get(
        reverse("campaigns:campaign-build", args=[campaign.pk, "review"])
    ).content.decode()
    assert "1 contact will be skipped: 1 opted out" in html


def test_sms_counter_partial_counts_segments(client_logged_in):
    response = client_logged_in.post(
        reverse("campaigns:campaign-counter"),
        {"message_template": "é" * 161},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "161 characters" in html and "2 segments" in html and "<html" not in html


def test_campaign_page_live_partial_and_csv(client_logged_in, workspace, settings):
    group = make_group(workspace, 2)
    campaign = make_campaign(workspace, group, name="=cmd")
    from campaigns.lifecycle import campaign_launch

    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)
    page = client_logged_in.get(reverse("campaigns:campaign-detail", args=[campaign.pk]))
    assert "<svg" in page.content.decode()
    live = client_logged_in.get(
        reverse("campaigns:campaign-detail", args=[campaign.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="campaign-live",
    )
    assert "<html" not in live.content.decode() and "Delivered" in live.content.decode()
    csv_text = b"".join(
        client_logged_in.get(
            reverse("campaigns:campaign-csv", args=[campaign.pk])
        ).streaming_content
    ).decode()
    assert csv_text.count("\n") == 3 and "delivered" in csv_text


def test_pause_completed_campaign_shows_error(client_logged_in, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1), state="completed")
    response = client_logged_in.post(
        reverse("campaigns:campaign-state", args=[campaign.pk, "pause"]), follow=True
    )
    assert "cannot be paused" in response.content.decode()


def test_other_workspace_campaign_is_404(client_logged_in, db):
    other = WorkspaceFactory()
    campaign = make_campaign(other, make_group(other, 1))
    for name, args in [
        ("campaign-detail", [campaign.pk]),
        ("campaign-csv", [campaign.pk]),
        ("campaign-build", [campaign.pk, "review"]),
    ]:
        assert client_logged_in.get(reverse(f"campaigns:{name}", args=args)).status_code == 404


@pytest.mark.parametrize(
    "page",
    [
        "campaigns:campaign-list",
        "campaigns:sender-list",
        "conversations:agent-list",
        "campaigns:campaign-new",
    ],
)
def test_pages_render(client_logged_in, page):
    assert client_logged_in.get(reverse(page)).status_code == 200


def test_sender_create_and_duplicate_refused(client_logged_in, workspace):
    url = reverse("campaigns:sender-new")
    data = {"channel": "sms", "address": "(415) 555-0100", "rate_limit_per_second": "1"}
    assert client_logged_in.post(url, data).status_code == 302
    assert Sender.objects.get().address == "+14155550100"
    response = client_logged_in.post(url, data)
    assert "already has that sender" in response.content.decode()


def test_deleting_the_group_keeps_the_campaign_and_its_page(client_logged_in, workspace):
    from contacts.groups import group_delete

    group = make_group(workspace, 1)
    campaign = make_campaign(workspace, group)
    group_delete(group=group)
    campaign.refresh_from_db()
    assert campaign.group is None
    page = client_logged_in.get(reverse("campaigns:campaign-detail", args=[campaign.pk]))
    assert "(deleted group)" in page.content.decode()
    review = client_logged_in.get(reverse("campaigns:campaign-build", args=[campaign.pk, "review"]))
    assert review.status_code == 200 and "Choose a contact group" in review.content.decode()


def test_schedule_label_describes_each_kind(workspace):
    from datetime import UTC, datetime

    group = make_group(workspace, 1)
    assert make_campaign(workspace, group).schedule_label == "On launch"
    at = datetime(2026, 5, 1, 13, tzinfo=UTC)
    once = make_campaign(workspace, group, scheduled_at=at)
    assert once.schedule_label == "2026-05-01 09:00 America/New_York"
    weekly = make_campaign(
        workspace,
        group,
        scheduled_at=at,
        recurrence={"frequency": "weekly", "days": ["Monday", "Friday"], "until": "2026-06-01"},
    )
    assert weekly.schedule_label == (
        "Weekly on Monday, Friday at 09:00 America/New_York, until 2026-06-01"
    )


def test_review_counts_messages_that_will_wait_for_the_window(client_logged_in, workspace):
    from datetime import UTC, datetime, timedelta

    group = make_group(workspace, 2)  # contacts in Los Angeles
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).replace(hour=10, minute=0, second=0)
    campaign = make_campaign(
        workspace,
        group,
        timezone="UTC",
        scheduled_at=tomorrow,  # 02:00 or 03:00 in LA
        window_start_hour=None,
        window_end_hour=None,  # SMS: quiet hours 08-21 recipient-local
    )
    html = client_logged_in.get(
        reverse("campaigns:campaign-build", args=[campaign.pk, "review"])
    ).content.decode()
    assert "2 messages will wait for quiet hours to end" in html


def test_delete_campaign_removes_its_messages_and_keeps_replies(client_logged_in, workspace):
    from campaigns.lifecycle import campaign_launch
    from messaging.models import InboundMessage, Message

    campaign = make_campaign(workspace, make_group(workspace, 2))
    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)
    message = Message.objects.first()
    reply = InboundMessage.objects.create(
        workspace=workspace,
        from_address=message.to_address,
        body="Yes",
        provider_message_id="SMreply1",
        in_reply_to=message,
    )
    response = client_logged_in.post(
        reverse("campaigns:campaign-state", args=[campaign.pk, "delete"])
    )
    assert response.status_code == 302
    assert not Campaign.objects.exists() and not Message.objects.exists()
    reply.refresh_from_db()
    assert reply.in_reply_to is None
