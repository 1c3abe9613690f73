"""The contact's Activity tab in a browser: metrics, timeline, htmx paging; email unsubscribe."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import InboundMessage, Message
from messaging.templatetags.messaging_activity import PER_PAGE
from messaging.unsubscribe import unsubscribe_token
from tests.factories import ContactFactory

pytestmark = pytest.mark.e2e


def _history(workspace, count):
    contact = ContactFactory(workspace=workspace, first_name="Jane", last_name="Doe")
    start = timezone.now() - timedelta(days=1)
    for index in range(count):
        Message.objects.create(
            workspace=workspace,
            contact=contact,
            channel="sms",
            to_address=contact.phone,
            body=f"Reminder number {index}",
            status="delivered",
            sent_at=start + timedelta(minutes=index),
        )
    InboundMessage.objects.create(
        workspace=workspace,
        contact=contact,
        from_address=contact.phone,
        body="<img src=x onerror=alert(1)> CONFIRM",
        provider_message_id="SMe2e",
        received_at=start + timedelta(minutes=count, seconds=30),
        response_seconds=30,
    )
    return contact


def test_activity_tab_pages_with_htmx(logged_in_page):
    page = logged_in_page
    contact = _history(page.workspace, PER_PAGE + 5)
    page.goto(f"{page.base_url}/contacts/{contact.pk}/")
    activity = page.locator("#contact-activity")
    assert (
        activity.locator(".stat", has_text="Messages sent")
        .inner_text()
        .startswith(str(PER_PAGE + 5))
    )
    first = activity.locator(".timeline-item").first
    assert "Reply received" in first.inner_text()
    assert "<img src=x onerror=alert(1)> CONFIRM" in first.inner_text()  # shown as text
    assert activity.locator("img").count() == 0
    activity.get_by_role("link", name="Older →").click()
    page.wait_for_selector("text=Reminder number 0")
    assert "Page 2" in page.locator("#contact-activity .pagination").inner_text()
    assert page.url.endswith(f"/contacts/{contact.pk}/")  # swapped in place, no navigation


def test_unsubscribe_confirm_page(page, live_server, transactional_db):
    from tests.factories import WorkspaceFactory

    workspace = WorkspaceFactory()
    contact = ContactFactory(workspace=workspace, email="jane@example.com")
    token = unsubscribe_token(workspace_id=workspace.pk, contact_id=contact.pk)
    page.goto(f"{live_server.url}/unsubscribe/{token}/")
    page.get_by_role("button", name="Unsubscribe").click()
    page.wait_for_selector("text=You are unsubscribed")
    contact.refresh_from_db()
    assert contact.opt_out_reason == "unsubscribed"
