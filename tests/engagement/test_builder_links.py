"""The builder and the API with link tracking (E1): the toggle, the count, the preview."""

import json

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from tests.campaigns.helpers import make_campaign, make_group

pytestmark = pytest.mark.django_db
BASE = "https://hrld.example"  # 20 characters: a short link is 35 (base + /l/ + 12)
LONG = (
    "https://shop.example.com/spring-sale/collections/women/shoes?utm_source=sms&utm_medium=herald"
)


@pytest.fixture(autouse=True)
def public_base(settings):
    settings.PUBLIC_BASE_URL = BASE


def counter(client, text: str, tracked: bool) -> str:
    data = {"message_template": text} | ({"track_links": "on"} if tracked else {})
    return client.post(reverse("campaigns:campaign-counter"), data).content.decode()


def test_counter_counts_links_in_their_short_form(client_logged_in):
    text = "Hi there, new shoes: " + LONG + " " + "x" * 100
    assert len(text) > 160  # two segments as written
    tracked = counter(client_logged_in, text, tracked=True)
    assert f"{len(text) - len(LONG) + 35} characters" in tracked
    assert "<strong>1 segment</strong>" in tracked
    assert "short form (35 characters)" in tracked
    untracked = counter(client_logged_in, text, tracked=False)
    assert f"{len(text)} characters" in untracked
    assert "<strong>2 segments</strong>" in untracked


def test_message_step_saves_the_link_options(client_logged_in, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1), state="draft")
    url = reverse("campaigns:campaign-build", args=[campaign.pk, "message"])
    page = client_logged_in.get(url).content.decode()
    assert 'name="track_links" checked' in page.replace("\n", " ").replace("  ", " ")
    response = client_logged_in.post(
        url, {"message_template": "Hi " + LONG, "link_click_code": "on"}
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.track_links, campaign.link_click_code) == (False, True)
    client_logged_in.post(url, {"message_template": "Hi " + LONG, "track_links": "on"})
    campaign.refresh_from_db()
    assert (campaign.track_links, campaign.link_click_code) == (True, False)


def test_review_previews_short_links_and_counts_with_them(client_logged_in, workspace):
    campaign = make_campaign(
        workspace, make_group(workspace, 2), state="draft", message_template="Hi " + LONG
    )
    review = client_logged_in.get(
        reverse("campaigns:campaign-build", args=[campaign.pk, "review"])
    ).content.decode()
    assert f"Hi {BASE}/l/Ab3De6Gh9Jk2" in review
    assert LONG not in review.split("Preview for real contacts")[1]
    assert f"{3 + 35} characters, 1 segment" in review


def test_voice_calls_have_no_links_to_track(client_logged_in, workspace):
    campaign = make_campaign(
        workspace, make_group(workspace, 1), state="draft", channel="voice", message_template=LONG
    )
    assert not campaign.tracks_links
    page = client_logged_in.get(
        reverse("campaigns:campaign-build", args=[campaign.pk, "message"])
    ).content.decode()
    assert 'name="track_links"' not in page


def test_api_sets_and_reads_the_link_options(api_client, workspace):
    group = make_group(workspace, 1)
    body = {"name": "Sale", "contact_group_id": group.pk, "message_template": "Hi " + LONG}
    created = api_client.post(
        "/api/v1/campaigns", json.dumps(body), content_type="application/json"
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert (data["track_links"], data["link_click_code"]) == (True, False)
    patched = api_client.patch(
        f"/api/v1/campaigns/{data['id']}",
        json.dumps({"track_links": False, "link_click_code": True}),
        content_type="application/json",
    ).json()
    assert (patched["track_links"], patched["link_click_code"]) == (False, True)
    campaign = Campaign.objects.get(pk=data["id"])
    assert (campaign.track_links, campaign.link_click_code) == (False, True)


def test_api_refuses_a_link_option_that_is_not_a_boolean(api_client, workspace):
    group = make_group(workspace, 1)
    body = {"name": "Sale", "contact_group_id": group.pk, "track_links": "maybe"}
    response = api_client.post(
        "/api/v1/campaigns", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 422
    assert not Campaign.objects.exists()
