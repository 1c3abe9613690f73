"""Build an SMS campaign step by step in the browser, test-send it, launch it, and watch the
campaign page's live counts (htmx polling) reach the end while the engine ticks."""

import re

from playwright.sync_api import expect

from campaigns import tick as engine
from campaigns.models import Campaign
from contacts.models import Contact
from messaging.models import Message
from tests.factories import ContactFactory, ContactGroupFactory


def test_campaign_builder_to_live_results(logged_in_page):
    page = logged_in_page
    workspace = page.workspace
    group = ContactGroupFactory(workspace=workspace, name="Patients")
    for name in ("Ann", "Bob", "Cy"):
        ContactFactory(workspace=workspace, first_name=name, in_groups=[group])
    opted = ContactFactory(workspace=workspace, first_name="Dee", in_groups=[group])
    Contact.objects.filter(pk=opted.pk).update(status="opted_out", opt_out_reason="manual")
    page.on("dialog", lambda dialog: dialog.accept())

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Contact group").select_option(label="Patients")
    page.get_by_role("button", name="Continue").click()

    page.get_by_text("Voice call").click()
    page.get_by_text("SMS", exact=True).click()
    page.get_by_role("button", name="Continue").click()

    body = page.get_by_label("Text message")
    body.fill("Hi {{first_name|there}}, your visit is on {{visit_date}}. Reply STOP to opt out")
    expect(page.locator("#sms-counter")).to_contain_text("1 segment")
    body.fill("é" * 10 + "€" + "ê" * 60)
    expect(page.locator("#sms-counter")).to_contain_text("UCS-2")
    expect(page.locator("#sms-counter")).to_contain_text("2 segments")
    body.fill("Hi {{first_name|there}}, your visit is on {{visit_date}}.")
    page.get_by_role("button", name="Continue").click()

    page.get_by_label("Campaign name").fill("Visit reminders")
    page.get_by_role("button", name="Continue").click()

    page.get_by_label("From hour").select_option("0")
    page.get_by_label("Until hour (exclusive)").select_option("24")
    page.get_by_label("Time zone").select_option("America/New_York")
    page.get_by_role("button", name="Continue to review").click()

    expect(page.get_by_text("1 contact will be skipped: 1 opted out")).to_be_visible()
    expect(page.get_by_text(re.compile(r"3 contacts have no\s+visit_date"))).to_be_visible()
    expect(page.locator(".preview-message").first).to_contain_text("Hi Ann, your visit is on .")

    page.get_by_label("Phone number").fill("not a number")
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("#test-send .flash-error")).to_contain_text("not a phone number")
    page.get_by_label("Phone number").fill("(415) 555-0199")
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("#test-send .flash-success")).to_contain_text("+14155550199")

    page.get_by_role("button", name="Launch now").click()
    expect(page.locator(".flash-success")).to_contain_text("Campaign launched")
    expect(page.locator("#campaign-state")).to_have_text("Running")

    engine.tick(send_inline=True)  # the worker's part, in this process
    live = page.locator("#campaign-live")
    expect(live.locator(".stat", has_text="Delivered").locator(".value")).to_have_text(
        "3", timeout=10_000
    )
    expect(live.locator(".stat", has_text="Skipped").locator(".value")).to_have_text("1")
    expect(live.locator("svg.funnel-chart")).to_be_visible()
    expect(page.locator("#campaign-state")).to_have_text("Completed")
    campaign = Campaign.objects.get(name="Visit reminders")
    assert campaign.state == Campaign.State.COMPLETED
    assert Message.objects.filter(campaign=campaign, status="delivered").count() == 3

    with page.expect_download() as download:
        page.get_by_role("link", name="Download results (CSV)").click()
    assert download.value.suggested_filename == f"campaign-{campaign.pk}-results.csv"
