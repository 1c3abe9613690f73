"""An email thread in Chromium: each email's subject shows above it when it changes (escaped:
a hostile subject is text), a new email's subject appears on the thread's poll, and a
person's reply is titled "Re: " and the contact's newest subject."""

import os

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from conversations.models import Conversation
from messaging.email_threading import reply_address
from messaging.models import Message
from tests.factories import ContactFactory, ContactGroupFactory
from tests.messaging.email_helpers import SECRET, post_email, raw_email
from tests.messaging.factories import MessageFactory, SenderFactory

pytestmark = pytest.mark.e2e
HOSTILE = '<img src=x onerror="alert(1)"> Change of plan'


def test_an_email_thread_shows_its_subjects(logged_in_page, settings):
    page = logged_in_page
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    settings.HERALD_REPLY_TO_EMAIL = "reply@in.herald.test"
    workspace = page.workspace
    workspace.inbound_email_secret = SECRET
    workspace.save()
    sender = SenderFactory(workspace=workspace, channel="email", address="news@acme.test")
    ann = ContactFactory(workspace=workspace, first_name="Ann", email="ann@example.com")
    campaign = Campaign.objects.create(
        workspace=workspace,
        name="Visits",
        group=ContactGroupFactory(workspace=workspace),
        sender=sender,
        channel="email",
    )
    MessageFactory(
        workspace=workspace,
        contact=ann,
        campaign=campaign,
        sender=sender,
        channel="email",
        to_address=ann.email,
        subject="Your visit",
        body="Shall we book Friday?",
    )
    to = reply_address(workspace_id=workspace.pk, contact_id=ann.pk)
    assert post_email(workspace, raw_email(to=to, text="Which room?")).status_code == 200
    conversation = Conversation.objects.get(contact=ann)

    page.goto(f"{page.base_url}/conversations/{conversation.pk}/")
    subjects = page.locator(".turn-subject")
    expect(subjects).to_have_count(1)
    expect(subjects.first).to_have_text("Subject: Your visit")
    expect(page.locator(".turn-contact .bubble")).to_have_text("Which room?")
    expect(page.get_by_label("Subject")).to_have_attribute("placeholder", "Re: Your visit")

    body = raw_email(to=to, subject=HOSTILE, text="Can we move it?", message_id="<m2@x>")
    assert post_email(workspace, body).status_code == 200
    # The thread polls every 5 s and swaps itself: the new email comes with its subject.
    expect(subjects).to_have_count(2, timeout=30_000)
    expect(subjects.last).to_have_text(f"Subject: {HOSTILE}")
    expect(page.locator(".turn-contact .bubble").last).to_have_text("Can we move it?")
    assert page.locator(".turn-subject img").count() == 0

    page.reload()
    expect(page.get_by_label("Subject")).to_have_attribute("placeholder", f"Re: {HOSTILE}")
    page.get_by_label("Message").fill("Monday works too.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".turn-staff .bubble")).to_have_text("Monday works too.")
    assert Message.objects.get(body="Monday works too.").subject == f"Re: {HOSTILE}"
    # Our Re: is the same subject: no new subject line above the reply.
    expect(subjects).to_have_count(2)
    _shots(page, "email-thread")
    assert dialogs == []


def _shots(page, name):
    """HERALD_SCREENSHOTS=<folder>: the thread at desktop and phone widths, to look at."""
    folder = os.environ.get("HERALD_SCREENSHOTS")
    if not folder:
        return
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 860})
        page.screenshot(path=f"{folder}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 860})
