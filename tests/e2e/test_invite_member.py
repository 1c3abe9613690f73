"""Invite a colleague by email from the members page, re-send the invitation, change a member's
role, then, as the colleague, open the emailed link, create a login and land in the workspace;
the link works once."""

import re

from django.core import mail
from playwright.sync_api import expect

from accounts.models import Membership
from tests.factories import MembershipFactory, UserFactory


def _path(message) -> str:
    """The link's path (PUBLIC_BASE_URL is not the live server's address)."""
    return re.search(r"http://[^/\s]+(/workspace/invitations/\S+/)", message.body).group(1)


def test_invite_resend_change_role_and_accept(logged_in_page):
    page = logged_in_page
    workspace = page.workspace
    MembershipFactory(
        user=UserFactory(username="sam"), workspace=workspace, role=Membership.Role.MEMBER
    )
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(f"{page.base_url}/workspace/settings/")
    page.get_by_role("link", name="Invite and manage members").click()
    expect(page.get_by_role("heading", name="Members", exact=True).first).to_be_visible()

    # A bad address is refused beside the field; nothing is sent.
    page.get_by_label("Email").fill("not-an-address")
    page.locator("#id_role").select_option("admin")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    assert not mail.outbox

    page.get_by_label("Email").fill("Kim.Colleague@Example.com")
    page.locator("#id_role").select_option("admin")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Invitation sent to kim.colleague@example.com."
    )
    assert mail.outbox[-1].to == ["kim.colleague@example.com"]
    first_link = _path(mail.outbox[-1])

    # Re-send: a new link, the first one stops working.
    page.get_by_role("button", name="Re-send the invitation to kim.colleague@example.com").click()
    expect(page.locator(".flash-success")).to_contain_text("the earlier link no longer works")
    link = _path(mail.outbox[-1])
    assert link != first_link

    # Sam becomes an admin.
    page.get_by_label("Role of sam").select_option("admin")
    page.locator("form.role-form", has=page.get_by_label("Role of sam")).get_by_role(
        "button", name="Change role"
    ).click()
    expect(page.locator(".flash-success")).to_contain_text("sam is now admin.")
    assert Membership.objects.get(user__username="sam").role == "admin"

    # The colleague, in another browser session, opens the emailed link.
    colleague = page.context.browser.new_context(viewport={"width": 390, "height": 860})
    try:
        other = colleague.new_page()
        other.set_default_timeout(15_000)
        other.goto(f"{page.base_url}{first_link}")
        expect(
            other.get_by_role("heading", name="This invitation link is not valid")
        ).to_be_visible()
        other.goto(f"{page.base_url}{link}")
        expect(other.get_by_role("heading", name="Join Acme")).to_be_visible()
        other.get_by_label("Username").fill("kim")
        other.locator("#id_password").fill("a-long-pass-phrase")
        other.get_by_label("Password (again)").fill("a-long-pass-phrase")
        other.get_by_role("button", name="Create login and join").click()
        expect(other.locator(".flash-success")).to_contain_text("Welcome to Acme.")
        expect(other).to_have_url(re.compile(r"/contacts/$"))
        assert other.evaluate("document.documentElement.scrollWidth") <= 390
        membership = Membership.objects.get(user__username="kim", workspace=workspace)
        assert membership.role == "admin" and membership.user.email == "kim.colleague@example.com"
        # Once only.
        other.goto(f"{page.base_url}{link}")
        expect(
            other.get_by_role("heading", name="This invitation was already used")
        ).to_be_visible()
    finally:
        colleague.close()

    page.reload()
    expect(page.get_by_text("No invitation is waiting.")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("kim")
