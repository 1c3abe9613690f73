"""A campaign's test email carries the unsubscribe footer and headers as recipients get them,
with a link that unsubscribes nobody; the unsubscribe pages are the sender's, not the
dashboard's (#14 §2, §5)."""

import re

import pytest

from campaigns.services import campaign_test_send
from contacts.models import Contact
from messaging.unsubscribe import unsubscribe_token
from tests.campaigns.helpers import make_campaign, make_group
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def _path(text: str) -> str:
    return re.search(r"https://herald\.example\.com(/unsubscribe/[^/\s\"<>]+/)", text).group(1)


@pytest.fixture
def email_campaign(workspace):
    return make_campaign(
        workspace,
        make_group(workspace, 2),
        channel="email",
        subject="Spring news",
        message_template="Hi {{first_name}}",
        html_template="<p>Hi {{first_name}}</p>",
    )


def test_test_email_has_the_footer_and_headers_of_a_real_one(fake_smtp, email_campaign):
    campaign_test_send(campaign=email_campaign, to="me@example.com")
    (received,) = fake_smtp.received
    mail = received.message
    assert mail["Subject"] == "[Test] Spring news"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(mail["List-Unsubscribe"]).strip().strip("<>")
    assert f"Unsubscribe: {link}" in mail.get_body(("plain",)).get_content()
    assert f'href="{link}"' in mail.get_body(("html",)).get_content()


def test_test_emails_link_unsubscribes_nobody_and_says_so(client, fake_smtp, email_campaign):
    campaign_test_send(campaign=email_campaign, to="me@example.com")
    path = _path(str(fake_smtp.received[0].message["List-Unsubscribe"]))
    page = client.get(path)
    assert page.status_code == 200 and b"This was a test email" in page.content
    one_click = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and b"nobody was unsubscribed" in one_click.content
    assert not Contact.objects.filter(status="opted_out").exists()


def test_unsubscribe_page_is_the_workspaces_not_the_dashboards(client_logged_in, workspace):
    contact = ContactFactory(workspace=workspace, email="ann@example.com")
    token = unsubscribe_token(workspace_id=workspace.pk, contact_id=contact.pk)
    html = client_logged_in.get(f"/unsubscribe/{token}/").content.decode()
    assert workspace.name in html and "Stop sending campaign emails" in html
    assert 'class="sidebar"' not in html and "Log out" not in html and "Herald" not in html
    done = client_logged_in.post(f"/unsubscribe/{token}/").content.decode()
    assert "You are unsubscribed" in done and 'class="sidebar"' not in done
    invalid = client_logged_in.get("/unsubscribe/nope/")
    assert invalid.status_code == 400 and b'class="sidebar"' not in invalid.content
