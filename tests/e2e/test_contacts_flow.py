"""Log in → Campaigns > Contacts → create a group → add a contact → search → select two →
move them to another group → export (issue 2's browser flow, on Debian's Chromium)."""

import csv
import io
import re
from pathlib import Path

from playwright.sync_api import expect

from contacts.models import Contact, ContactGroup
from tests.factories import ContactFactory, ContactGroupFactory


def test_contacts_flow(logged_in_page):
    page = logged_in_page
    workspace = page.workspace
    leads = ContactGroupFactory(workspace=workspace, name="Old leads")
    ContactFactory(workspace=workspace, first_name="Sam", last_name="Smith", in_groups=[leads])
    ContactFactory(workspace=workspace, first_name="Other", last_name="Person", in_groups=[leads])

    # Campaigns > Contacts in the sidebar.
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Contacts").click()
    expect(page.get_by_role("heading", name="Contacts", exact=True)).to_be_visible()
    expect(page.locator("#group-panel .count").first).to_be_visible()  # lazy counts loaded

    # Create a group.
    page.get_by_role("link", name="New group").click()
    page.get_by_label("Name").fill("Hot leads")
    page.get_by_role("button", name="Create group").click()
    expect(page.locator(".flash-success")).to_contain_text("Group “Hot leads” created.")

    # Add a contact, into the "Old leads" group.
    page.goto(f"{page.base_url}/contacts/?group={leads.pk}")
    page.get_by_role("link", name="Add contact").click()
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Smith")
    page.get_by_label("Phone").fill("(415) 555-0134")
    page.get_by_label("Email").fill("ada@example.com")
    page.locator("input[name=meta_key]").first.fill("plan")
    page.locator("input[name=meta_value]").first.fill("pro")
    expect(page.get_by_label("Old leads")).to_be_checked()
    page.get_by_role("button", name="Add contact").click()
    expect(page.locator(".flash-success")).to_contain_text("Contact “Ada Smith” added.")
    expect(page.get_by_text("+14155550134")).to_be_visible()

    # Search, as you type, inside the group.
    page.goto(f"{page.base_url}/contacts/?group={leads.pk}")
    page.get_by_label("Search").fill("smith")
    expect(page.locator("#contact-table tbody tr")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"search=smith"))

    # Select two and move them to the new group.
    boxes = page.locator("#contact-table tbody input[data-select-row]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    expect(page.locator("[data-selected-count]")).to_have_text("2")
    page.get_by_label("Action").select_option("move")
    page.get_by_label("Target group").select_option(label="Hot leads")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".flash-success")).to_contain_text("2 contacts moved")
    hot = ContactGroup.objects.get(workspace=workspace, name="Hot leads")
    assert set(hot.contacts.values_list("last_name", flat=True)) == {"Smith"}
    assert list(leads.contacts.values_list("first_name", flat=True)) == ["Other"]

    # Export the new group.
    page.goto(f"{page.base_url}/contacts/?group={hot.pk}")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export CSV").click()
    text = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["first_name"] for r in rows) == ["Ada", "Sam"]
    assert {r["phone"] for r in rows} >= {"+14155550134"}
    assert next(r for r in rows if r["first_name"] == "Ada")["plan"] == "pro"
    assert Contact.objects.filter(workspace=workspace).count() == 3
