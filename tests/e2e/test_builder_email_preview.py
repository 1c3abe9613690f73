"""The review shows an email's HTML as recipients get it, in a sandboxed frame whose inline
styles work and whose scripts never run (the page fixture fails on any CSP violation)."""

from playwright.sync_api import expect

from contacts.models import Contact
from tests.campaigns.helpers import make_campaign, make_group


def test_review_shows_the_email_in_a_sandboxed_frame(logged_in_page):
    page = logged_in_page
    group = make_group(page.workspace, 2)
    Contact.objects.filter(memberships__group=group).update(first_name="Ann")
    campaign = make_campaign(
        page.workspace,
        group,
        channel="email",
        subject="News",
        message_template="Hi {{first_name}}",
        html_template='<h1 class="x" style="color: rgb(200, 0, 0)">Hello {{first_name}}</h1>',
    )
    page.goto(f"{page.base_url}/campaigns/{campaign.pk}/build/review/")
    frame = page.frame_locator("iframe.email-preview")
    heading = frame.get_by_role("heading", name="Hello Ann")
    expect(heading).to_be_visible()
    expect(heading).to_have_css("color", "rgb(200, 0, 0)")
    expect(frame.get_by_role("link", name="Unsubscribe")).to_be_visible()
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 860})
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, (width, scroll)
    page.locator("iframe.email-preview").scroll_into_view_if_needed()
    expect(heading).to_be_visible()
