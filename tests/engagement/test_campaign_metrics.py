"""A campaign's engagement (E4): results per run and overall, API, CSV, page and chart."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import api_key_create
from campaigns.lifecycle import campaign_delete
from campaigns.selectors import campaign_chart, campaign_results
from engagement.clicks import PendingClick, clicks_store, contact_clicks_count
from engagement.conversions import conversion_create
from engagement.models import Click, Conversion, TrackedLink
from tests.factories import WorkspaceFactory

from .factories import CampaignFactory, CampaignMessageFactory, RunFactory, TrackedLinkFactory

pytestmark = pytest.mark.django_db
BROWSER = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36"


def click(link, agent=BROWSER):
    at = timezone.now()
    clicks_store([PendingClick(link.code, link.message_id, at, "GET", agent, "192.0.2.1")])
    contact_clicks_count()  # as the tick does


@pytest.fixture
def campaign(workspace):
    """Two runs of 3 and 2 delivered messages. Run 1: Ann clicks twice and buys (30), Bob's
    link is only previewed by a bot; run 2: Cy clicks and buys twice (10 + 2.5), Dee nothing.
    An unattributed conversion of someone else counts nowhere."""
    campaign = CampaignFactory(workspace=workspace, name="Spring sale")
    first, second = (RunFactory(campaign=campaign) for _ in range(2))
    messages = [CampaignMessageFactory(workspace=workspace, run=first) for _ in range(3)]
    messages += [CampaignMessageFactory(workspace=workspace, run=second) for _ in range(2)]
    ann, bob, _, cy, _ = (TrackedLinkFactory(message=m) for m in messages)
    click(ann)
    click(ann)
    click(bob, agent="facebookexternalhit/1.1")
    click(cy)
    for link, revenue in ((ann, "30"), (cy, "10"), (cy, "2.5")):
        conversion_create(
            workspace=workspace,
            name="order",
            identifier={"click_code": link.code},
            revenue=Decimal(revenue),
        )
    stranger = CampaignMessageFactory(workspace=workspace, delivered_at=None, status="sent")
    conversion_create(
        workspace=workspace,
        name="order",
        identifier={"contact_id": stranger.contact_id},
        occurred_at=timezone.now() - timedelta(days=3),
    )
    campaign.first, campaign.second = first, second
    return campaign


def engagement(results: dict) -> tuple:
    keys = ("clicks", "unique_clicks", "click_rate", "conversions", "revenue")
    return (*(results[k] for k in keys), results["revenue_per_message"])


def test_results_overall_and_per_run(campaign):
    assert engagement(campaign_results(campaign=campaign)) == (3, 2, 0.4, 3, 42.5, 8.5)
    assert engagement(campaign_results(campaign=campaign, run=campaign.first)) == (
        2, 1, 0.3333, 1, 30.0, 10.0
    )  # fmt: skip
    assert engagement(campaign_results(campaign=campaign, run=campaign.second)) == (
        1, 1, 0.5, 2, 12.5, 6.25
    )  # fmt: skip


def test_results_api_overall_and_for_a_run(api_client, campaign):
    url = f"/api/v1/campaigns/{campaign.pk}/results"
    body = api_client.get(url).json()
    assert (body["clicks"], body["unique_clicks"], body["click_rate"]) == (3, 2, 0.4)
    assert (body["conversions"], body["revenue"], body["currency"]) == (3, 42.5, "USD")
    run = api_client.get(f"{url}?run_id={campaign.second.pk}").json()
    assert (run["clicks"], run["conversions"], run["revenue"]) == (1, 2, 12.5)


def test_results_api_refuses_another_campaigns_run(api_client, campaign, workspace):
    other = RunFactory(campaign=CampaignFactory(workspace=workspace))
    response = api_client.get(f"/api/v1/campaigns/{campaign.pk}/results?run_id={other.pk}")
    assert response.status_code == 404


def test_another_workspace_sees_none_of_it(campaign):
    _, key = api_key_create(workspace=WorkspaceFactory(), name="x")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get(
        f"/api/v1/campaigns/{campaign.pk}/results"
    )
    assert response.status_code == 404


def test_results_csv_has_each_recipients_clicks_conversions_and_revenue(client_logged_in, campaign):
    response = client_logged_in.get(f"/campaigns/{campaign.pk}/results.csv")
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    assert len(rows) == 5
    found = sorted((r["clicks"], r["conversions"], r["revenue"]) for r in rows)
    assert found == [("0", "0", "0.00"), ("0", "0", "0.00"), ("0", "0", "0.00"),
                     ("1", "2", "12.50"), ("2", "1", "30.00")]  # fmt: skip


def test_campaign_page_shows_engagement_per_run_and_the_chart(client_logged_in, campaign):
    page = client_logged_in.get(f"/campaigns/{campaign.pk}/").content.decode()
    stats = page.split('id="campaign-engagement"')[1].split("</div>\n  </div>")[0]
    for value, label in (
        ("3", "Clicks"),
        ("2", "Clicked (people)"),
        ("40%", "Click rate"),
        ("3", "Conversions"),
        ("42.50", "Revenue"),
        ("8.50", "Revenue per message sent"),
    ):
        assert f'<div class="value">{value}' in stats and label in stats
    assert "<td>12.50</td><td>6.25</td>" in page  # the second run's revenue, per message
    assert 'class="swatch chart-clicked"></span>Clicked' in page
    assert 'class="swatch chart-converted"></span>Converted' in page


def test_chart_counts_clicks_and_conversions_over_time(campaign):
    chart = campaign_chart(campaign=campaign)
    assert chart["totals"]["Clicked"] == 3
    assert chart["totals"]["Converted"] == 3


def test_deleting_a_campaign_takes_its_links_and_clicks_and_keeps_the_revenue(campaign):
    campaign.state = "completed"
    campaign.save()
    contact = campaign.first.messages.first().contact
    campaign_delete(campaign=campaign)
    assert not TrackedLink.objects.exists()
    assert not Click.objects.exists()
    credited = Conversion.objects.filter(revenue__gt=0)
    assert credited.count() == 3
    assert set(credited.values_list("campaign_id", "run_id", "message_id")) == {(None, None, None)}
    contact.refresh_from_db()
    assert (contact.click_count, contact.conversion_count) == (2, 1)  # the contact keeps them


def test_deleting_a_campaign_keeps_the_links_of_messages_made_between_its_own(workspace):
    mine, other = (
        RunFactory(campaign__workspace=workspace),
        RunFactory(campaign__workspace=workspace),
    )
    # Message ids interleaved: the other campaign's message is inside this one's id span.
    messages = [CampaignMessageFactory(workspace=workspace, run=run) for run in (mine, other, mine)]
    links = [TrackedLinkFactory(message=message) for message in messages]
    mine.campaign.state = "completed"
    mine.campaign.save()
    campaign_delete(campaign=mine.campaign)
    assert list(TrackedLink.objects.values_list("code", flat=True)) == [links[1].code]
