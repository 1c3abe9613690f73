"""The builder never loses what was typed: a refused step comes back as it was filled in, and
fixing the one flagged field schedules the campaign as built (#14 §2)."""

from playwright.sync_api import expect

from campaigns.models import Campaign
from conversations.models import Agent
from tests.campaigns.helpers import make_campaign, make_group, make_sender


def _build(page, campaign, step):
    page.goto(f"{page.base_url}/campaigns/{campaign.pk}/build/{step}/")


def test_refused_schedule_comes_back_as_typed_and_launches_as_built(logged_in_page):
    page = logged_in_page
    campaign = make_campaign(page.workspace, make_group(page.workspace, 2), name="Weekly tips")
    page.on("dialog", lambda dialog: dialog.accept())
    _build(page, campaign, "schedule")
    page.get_by_label("Recurring, starting at the date and time").check()
    page.get_by_label("Date and time (local)").fill("2031-05-06T09:30")
    page.get_by_label("Time zone").select_option("contact_local")
    page.get_by_label("Repeat").select_option("weekly")  # no day ticked: refused
    page.get_by_label("From hour").select_option("8")
    page.get_by_label("Until hour (exclusive)").select_option("20")
    page.get_by_role("group", name="Never send on").get_by_label("Sunday").check()
    page.get_by_role("button", name="Continue to review").click()

    expect(page.get_by_text("A weekly recurrence needs at least one day.")).to_be_visible()
    expect(page.get_by_label("Recurring, starting at the date and time")).to_be_checked()
    expect(page.get_by_label("Send as soon as it is launched")).not_to_be_checked()
    expect(page.get_by_label("Date and time (local)")).to_have_value("2031-05-06T09:30")
    expect(page.get_by_label("Time zone")).to_have_value("contact_local")
    expect(page.get_by_label("Repeat")).to_have_value("weekly")
    expect(page.get_by_label("From hour")).to_have_value("8")
    expect(page.get_by_label("Until hour (exclusive)")).to_have_value("20")
    expect(page.get_by_role("group", name="Never send on").get_by_label("Sunday")).to_be_checked()

    page.get_by_role("group", name="Weekly on").get_by_label("Tuesday").check()
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
    page.get_by_role("button", name="Schedule campaign").click()
    expect(page.locator(".flash-success")).to_contain_text("Campaign scheduled")
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.SCHEDULED
    assert campaign.recurrence["days"] == ["Tuesday"]
    assert (campaign.window_start_hour, campaign.window_end_hour) == (8, 20)
    assert campaign.excluded_days == ["Sunday"]


def test_refused_settings_keep_the_chosen_agent_and_sender(logged_in_page):
    page = logged_in_page
    workspace = page.workspace
    Agent.objects.create(workspace=workspace, name="Saved agent")
    Agent.objects.create(workspace=workspace, name="Nora")
    make_sender(workspace, address="+14155550100")
    make_sender(workspace, address="+14155550111")
    campaign = make_campaign(workspace, make_group(workspace, 1))
    _build(page, campaign, "settings")
    page.get_by_label("Campaign name").fill("")
    page.get_by_label("Agent").select_option(label="Nora")
    page.get_by_label("Caller ID / From number").select_option(index=2)
    chosen_sender = page.get_by_label("Caller ID / From number").input_value()
    page.get_by_label("Max retries").fill("5")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_text("Give the campaign a name.")).to_be_visible()
    expect(page.get_by_label("Agent").locator("option:checked")).to_have_text("Nora")
    expect(page.get_by_label("Caller ID / From number")).to_have_value(chosen_sender)
    expect(page.get_by_label("Max retries")).to_have_value("5")
