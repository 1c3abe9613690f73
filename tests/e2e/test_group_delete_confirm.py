"""Deleting a group a scheduled campaign targets: the page names the campaign and deletes
only on the explicit confirmation."""

from playwright.sync_api import expect

from campaigns.models import Campaign
from contacts.models import ContactGroup
from tests.campaigns.helpers import make_campaign, make_group


def test_group_delete_names_the_campaign_and_asks(logged_in_page):
    page = logged_in_page
    group = make_group(page.workspace, 2, name="Patients")
    make_campaign(page.workspace, group, name="Spring sale", state=Campaign.State.SCHEDULED)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{page.base_url}/contacts/?group={group.pk}")
    page.get_by_role("button", name="Delete group").click()
    expect(page.get_by_role("heading", name="Delete the group “Patients”?")).to_be_visible()
    expect(page.get_by_text("Campaign “Spring sale” (scheduled)")).to_be_visible()
    assert ContactGroup.objects.filter(pk=group.pk).exists()
    page.get_by_role("button", name="Delete the group anyway").click()
    expect(page.get_by_text("Group “Patients” deleted.")).to_be_visible()
    assert not ContactGroup.objects.filter(pk=group.pk).exists()
