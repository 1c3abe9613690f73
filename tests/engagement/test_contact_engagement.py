"""A contact's engagement (E4): the page, its activity, the list filters, the API and export."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from contacts.export import export_to_file
from contacts.models import Contact
from engagement.clicks import PendingClick, clicks_store, contact_clicks_count
from engagement.conversions import conversion_create
from tests.factories import ContactFactory

from .factories import CampaignMessageFactory, TrackedLinkFactory

pytestmark = pytest.mark.django_db
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15"


def clicked(link, *, ago=timedelta(0), agent=BROWSER):
    at = timezone.now() - ago
    clicks_store([PendingClick(link.code, link.message_id, at, "GET", agent, "192.0.2.7")])
    contact_clicks_count()  # as the tick does


@pytest.fixture
def engaged(workspace):
    """A contact who clicked a campaign's link (and whose link was also previewed by a bot),
    then bought something."""
    message = CampaignMessageFactory(workspace=workspace, run__campaign__name="Spring sale")
    link = TrackedLinkFactory(message=message, url="https://shop.example.com/spring?x=1&y=2")
    clicked(link, ago=timedelta(hours=2), agent="facebookexternalhit/1.1")
    clicked(link, ago=timedelta(hours=1))
    conversion_create(
        workspace=workspace,
        name="<b>order</b>",
        identifier={"contact_id": message.contact_id},
        revenue=Decimal("42.50"),
    )
    return Contact.objects.get(pk=message.contact_id)


def test_detail_page_shows_counts_and_each_click_and_conversion(client_logged_in, engaged):
    page = client_logged_in.get(f"/contacts/{engaged.pk}/").content.decode()
    engagement = page.split('id="contact-engagement"')[1].split("</dl>")[0]
    assert "<dt>Clicks</dt><dd>1 " in engagement
    assert "<dt>Conversions</dt><dd>1</dd>" in engagement
    assert "42.50 USD" in engagement
    assert page.count("Link clicked") == 2  # the person's click and the preview
    assert "Bot or link preview" in page
    assert "https://shop.example.com/spring?x=1&amp;y=2" in page
    assert "&lt;b&gt;order&lt;/b&gt;, 42.50 USD, credited to Spring sale (last click)" in page
    assert "<b>order</b>" not in page


def test_activity_api_lists_clicks_and_conversions(api_client, engaged):
    body = api_client.get(f"/api/v1/campaigns/contacts/{engaged.pk}/activity").json()
    entries = [(a["type"], a["status"], a["campaign"]) for a in body["activity"]]
    assert ("link_clicked", "human", "Spring sale") in entries
    assert ("link_clicked", "bot", "Spring sale") in entries
    assert ("conversion", "converted", "Spring sale") in entries


def test_contact_api_has_the_engagement_fields(api_client, engaged):
    body = api_client.get(f"/api/v1/contacts/{engaged.pk}").json()
    assert body["click_count"] == 1 and body["conversion_count"] == 1
    assert body["revenue_total"] == 42.5
    assert body["last_clicked_at"] is not None and body["last_revenue_at"] is not None


@pytest.fixture
def three(workspace, engaged):
    """`engaged`, a contact who clicked 10 days ago, and one who never did anything."""
    old = CampaignMessageFactory(workspace=workspace)
    clicked(TrackedLinkFactory(message=old), ago=timedelta(days=10))
    idle = ContactFactory(workspace=workspace)
    return engaged, Contact.objects.get(pk=old.contact_id), idle


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("clicked_within_days=3", [0]),
        ("clicked_within_days=30", [0, 1]),
        ("has_converted=true", [0]),
        ("has_converted=false", [1, 2]),
        ("clicked_within_days=30&has_converted=false", [1]),
    ],
)
def test_list_filters(client_logged_in, api_client, three, query, expected):
    wanted = sorted(three[i].pk for i in expected)
    api = api_client.get(f"/api/v1/contacts?{query}").json()
    assert sorted(item["id"] for item in api["items"]) == wanted
    page = client_logged_in.get(f"/contacts/?{query}").content.decode()
    shown = sorted(c.pk for c in three if f"/contacts/{c.pk}/" in page)
    assert shown == wanted


@pytest.mark.parametrize("days", ["0", "-1", "abc", "99999"])
def test_bad_day_count_matches_nothing_on_the_page_and_is_422_in_the_api(
    client_logged_in, api_client, three, days
):
    page = client_logged_in.get(f"/contacts/?clicked_within_days={days}").content.decode()
    assert not any(f"/contacts/{c.pk}/" in page for c in three)
    assert api_client.get(f"/api/v1/contacts?clicked_within_days={days}").status_code == 422


def test_export_has_the_engagement_columns(workspace, three):
    buffer = io.StringIO(newline="")
    export_to_file(Contact.objects.for_workspace(workspace), buffer)
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue(), newline="")))
    engaged = next(row for row in rows if row["phone"] == three[0].phone)
    assert (engaged["click_count"], engaged["conversion_count"]) == ("1", "1")
    assert Decimal(engaged["revenue_total"]) == Decimal("42.50")
    assert engaged["last_clicked_at"] and engaged["last_revenue_at"]
    idle = next(row for row in rows if row["phone"] == three[2].phone)
    assert (idle["click_count"], idle["last_clicked_at"]) == ("0", "")
