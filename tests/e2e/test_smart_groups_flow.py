"""Build a smart group of three conditions in the browser, watching the live count change,
then launch a campaign to it and see it reach the one contact who matches."""

from playwright.sync_api import expect

from campaigns import tick as engine
from campaigns.models import Campaign
from contacts.models import Contact
from messaging.models import Message
from tests.factories import ContactFactory

SETTLED = "() => !document.querySelector('.htmx-request')"
# htmx inserts swapped-in content first and wires up its hx- attributes only after the settle
# delay, then fires htmx:load on it: a change made in between sends nothing. So the wait is
# for htmx:load on the new editor, not for the editor to be in the page.
WATCH = """() => {
  window.editorLoaded = false;
  document.addEventListener('htmx:load', function loaded(event) {
    if (event.target.id === 'smart-editor') {
      window.editorLoaded = true;
      document.removeEventListener('htmx:load', loaded);
    }
  });
}"""


def _settle(page) -> None:
    """Wait for htmx to have answered the requests made so far."""
    page.wait_for_function(SETTLED)


def _rerendered(page, action) -> None:
    """Do `action` and wait for the editor it re-renders to be swapped in and live."""
    page.evaluate(WATCH)
    action()
    page.wait_for_function("() => window.editorLoaded")


def _condition(page, n: int, field: str, op: str, value: str) -> None:
    _rerendered(
        page, lambda: page.get_by_label(f"Field of condition {n}").select_option(label=field)
    )
    _rerendered(
        page, lambda: page.get_by_label(f"Operator of condition {n}").select_option(label=op)
    )
    value_input = page.get_by_label(f"Value of condition {n}")
    if value_input.evaluate("element => element.tagName") == "SELECT":
        value_input.select_option(label=value)
    else:
        value_input.fill(value)


def test_smart_group_with_three_conditions_to_a_campaign(logged_in_page):
    page = logged_in_page
    workspace = page.workspace
    plans = [("Ann", "pro", 12), ("Bob", "pro", 2), ("Cy", "free", 40), ("Dee", "pro", 9)]
    for name, plan, seats in plans:
        ContactFactory(
            workspace=workspace, first_name=name, metadata={"plan": plan, "seats": seats}
        )
    Contact.objects.filter(first_name="Dee").update(status="opted_out", opt_out_reason="manual")
    page.on("dialog", lambda dialog: dialog.accept())

    _settle(page)  # the group panel's lazy load (with counts)
    page.get_by_role("link", name="New smart group").click()
    page.get_by_label("Name").fill("Big pro accounts")
    count = page.locator("#smart-count")
    _condition(page, 1, "plan", "is", "pro")
    expect(count).to_have_text("3")
    _rerendered(page, page.get_by_role("button", name="Add condition").click)
    _condition(page, 2, "seats", "on or after / at least", "5")
    expect(count).to_have_text("2")
    _rerendered(page, page.get_by_role("button", name="Add condition").click)
    _condition(page, 3, "Status", "is", "Active")
    expect(count).to_have_text("1")
    expect(page.locator("#smart-preview")).to_contain_text("Ann")
    page.get_by_role("button", name="Create smart group").click()
    expect(page.locator(".flash-success")).to_contain_text("Smart group “Big pro accounts” saved")
    page.get_by_role("link", name="Open its contacts").click()
    expect(page.locator("#contact-table")).to_contain_text("Ann")
    expect(page.locator("#contact-table")).not_to_contain_text("Bob")
    expect(page.locator("#group-panel .active")).to_contain_text("Big pro accounts")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Contact group").select_option(label="Big pro accounts")
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("SMS", exact=True).click()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Text message").fill("Hi {{first_name}}, your seats are ready.")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Campaign name").fill("Seat renewals")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("From hour").select_option("0")
    page.get_by_label("Until hour (exclusive)").select_option("24")
    page.get_by_role("button", name="Continue to review").click()
    expect(page.get_by_text("Big pro accounts (smart group) (1 contact match now)")).to_be_visible()
    page.get_by_role("button", name="Launch now").click()
    expect(page.locator(".flash-success")).to_contain_text("Campaign launched")

    engine.tick(send_inline=True)
    live = page.locator("#campaign-live")
    expect(live.locator(".stat", has_text="Delivered").locator(".value")).to_have_text(
        "1", timeout=10_000
    )
    campaign = Campaign.objects.get(name="Seat renewals")
    sent_to = Message.objects.filter(campaign=campaign).values_list(
        "contact__first_name", flat=True
    )
    assert list(sent_to) == ["Ann"]
