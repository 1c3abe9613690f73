"""A launched campaign can be renamed from its page (#14 §5)."""

from playwright.sync_api import expect

from campaigns.models import Campaign
from tests.campaigns.helpers import make_campaign, make_group


def test_rename_a_running_campaign_from_its_page(logged_in_page):
    page = logged_in_page
    campaign = make_campaign(
        page.workspace, make_group(page.workspace, 1), name="Spring", state=Campaign.State.RUNNING
    )
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 860})
        page.goto(f"{page.base_url}/campaigns/{campaign.pk}/")
        page.get_by_text("Rename", exact=True).click()
        page.get_by_label("New name").fill(f"Spring sale {width}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.get_by_role("button", name="Save name").click()
        expect(page.get_by_role("heading", name=f"Spring sale {width}")).to_be_visible()
    campaign.refresh_from_db()
    assert campaign.name == "Spring sale 1280" and campaign.state == Campaign.State.RUNNING
