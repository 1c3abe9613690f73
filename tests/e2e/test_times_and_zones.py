"""Times on pages are in the workspace's zone with the zone named; the zone and country
selects are searchable by city and country name."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from accounts.models import Workspace
from contacts.models import Contact
from tests.factories import ContactFactory

pytestmark = pytest.mark.e2e


def test_zone_search_and_times_in_the_workspace_zone(logged_in_page, tmp_path):
    page = logged_in_page
    Workspace.objects.filter(pk=page.workspace.pk).update(timezone="America/New_York")
    contact = ContactFactory(workspace=page.workspace, first_name="Ada")
    created = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)
    Contact.objects.filter(pk=contact.pk).update(created_at=created)
    page.goto(f"{page.base_url}/contacts/{contact.pk}/")
    expect(page.locator("dd", has_text="2026-01-15")).to_have_text("2026-01-15 09:00 EST")

    page.goto(f"{page.base_url}/workspace/settings/")
    zone = page.get_by_role("combobox", name="Time zone")
    expect(zone).to_have_value("America/New_York")
    page.get_by_label("Find a zone by city or country").fill("berlin")
    expect(zone).to_have_value("Europe/Berlin")
    assert zone.locator("option:not([hidden])").all_inner_texts() == ["Europe/Berlin — Germany"]
    region = page.get_by_role("combobox", name="Default country for phone numbers")
    page.get_by_label("Find a country").fill("united kingdom")
    expect(region).to_have_value("GB")
    page.get_by_label("Find a country").press("Enter")  # searching does not submit the form
    expect(page.get_by_role("button", name="Save settings")).to_be_visible()
    page.screenshot(path=tmp_path / "settings-1280.png", full_page=True)
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".flash-success")).to_be_visible()
    workspace = Workspace.objects.get(pk=page.workspace.pk)
    assert (workspace.timezone, workspace.default_region) == ("Europe/Berlin", "GB")

    page.goto(f"{page.base_url}/contacts/{contact.pk}/")
    expect(page.locator("dd", has_text="2026-01-15")).to_have_text("2026-01-15 15:00 CET")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{page.base_url}/workspace/settings/")
    page.screenshot(path=tmp_path / "settings-390.png", full_page=True)
