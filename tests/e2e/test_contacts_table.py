"""The contacts table in the browser (issue 14 §5): sort by a header, change rows per page,
search, tag two contacts and find them still selected, then select all contacts matching
the filters across pages and delete them, asked with their number."""

import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from contacts.models import Contact
from tests.factories import ContactFactory, ContactGroupFactory

MARK = """() => {
  document.querySelector('#contact-table').dataset.stale = 'yes';
  window.tableSettled = false;
  document.addEventListener('htmx:afterSettle', () => { window.tableSettled = true; },
    { once: true });
}"""
SWAPPED = "() => window.tableSettled && !document.querySelector('#contact-table[data-stale]')"


def _swapped(page, action) -> None:
    """Do `action`, then wait for the new table to be swapped in and processed by htmx."""
    page.evaluate(MARK)
    action()
    page.wait_for_function(SWAPPED)


def _query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _names(page) -> list[str]:
    return page.locator("#contact-table tbody td.col-name a").all_inner_texts()


def test_sort_rows_per_page_selection_and_delete_all_matching(logged_in_page):
    page = logged_in_page
    workspace = page.workspace
    leads = ContactGroupFactory(workspace=workspace, name="Leads")
    for i in range(27):
        ContactFactory(
            workspace=workspace, first_name=f"P{i:02d}", last_name="Member", in_groups=[leads]
        )
    for first, last in [("Zoe", "adams"), ("Ed", "Eastwood"), ("Eve", "Éastman")]:
        ContactFactory(workspace=workspace, first_name=first, last_name=last, in_groups=[leads])
    outsider = ContactFactory(workspace=workspace, first_name="Out", last_name="Aaron")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))

    page.goto(f"{page.base_url}/contacts/?group={leads.pk}")
    table = page.locator("#contact-table")
    # Sort by name: case and accents ignored.
    _swapped(page, lambda: table.get_by_role("link", name="Name").click())
    expect(table.locator("th[aria-sort=ascending]")).to_have_text("Name")
    assert _names(page)[:3] == ["Zoe adams", "Eve Éastman", "Ed Eastwood"]
    assert _query(page) == {"group": [str(leads.pk)], "sort": ["name"], "page": ["1"]}

    # 50 rows per page: every member on one page, the sort and group kept, nothing repeated.
    _swapped(page, lambda: page.get_by_label("Rows per page").select_option("50"))
    expect(table.locator("tbody tr")).to_have_count(30)
    query = _query(page)
    assert query["per_page"] == ["50"] and query["sort"] == ["name"]
    assert query["group"] == [str(leads.pk)] and "page" not in query
    assert all(len(values) == 1 for values in query.values()), page.url

    # Search keeps the sort and the rows per page.
    _swapped(page, lambda: page.get_by_label("Search").fill("ast"))
    assert _query(page)["sort"] == ["name"] and _query(page)["per_page"] == ["50"]
    assert _names(page) == ["Eve Éastman", "Ed Eastwood"]

    # Tag two: back on the same list, the two still selected.
    page.get_by_label("Select Ed Eastwood").check()
    page.get_by_label("Select Eve Éastman").check()
    expect(page.locator("[data-selected-count]")).to_have_text("2")
    page.get_by_label("Action").select_option("add_tag")
    page.locator("#bulk-tag").fill("vip")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".flash-success")).to_contain_text("Tag “vip” added to 2 contacts.")
    expect(page.get_by_label("Select Ed Eastwood")).to_be_checked()
    expect(page.get_by_label("Select Eve Éastman")).to_be_checked()
    expect(page.locator("[data-selected-count]")).to_have_text("2")
    assert _query(page)["sort"] == ["name"] and _query(page)["search"] == ["ast"]
    assert Contact.objects.filter(tags__name="vip").count() == 2

    # Clear the search, 25 a page: select the page, then all 30 matching, and delete them.
    page.goto(f"{page.base_url}/contacts/?group={leads.pk}&sort=name")
    expect(table.locator("tbody tr")).to_have_count(25)
    table.get_by_label("Select all contacts on this page").check()
    page.get_by_role("button", name="Select all contacts matching these filters").click()
    expect(page.locator("#match-count")).to_have_text("30")
    expect(page.locator("[data-selected-count]")).to_have_text("All matching")
    page.get_by_label("Action").select_option("delete")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".flash-success")).to_contain_text("30 contacts deleted.")
    assert dialogs[-1] == "Delete 30 contacts? This cannot be undone."
    assert list(Contact.objects.filter(workspace=workspace)) == [outsider]
    expect(page).to_have_url(re.compile(rf"group={leads.pk}&sort=name$"))
