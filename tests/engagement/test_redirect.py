"""GET /l/<code> (E2), through the view and through the WSGI application's fast path."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from engagement.clicks import contact_clicks_count, ip_hash
from engagement.models import Click, TrackedLink
from tests.messaging.helpers import WsgiClient

from .factories import CampaignMessageFactory, TrackedLinkFactory

pytestmark = pytest.mark.django_db
BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(params=["view", "wsgi"])
def client(request):
    """Each test runs against the view (Django's test client) and against the WSGI application
    gunicorn serves, where the fast path answers before Django does."""
    return Client() if request.param == "view" else WsgiClient()


def get(client, path: str, **extra):
    extra.setdefault("HTTP_USER_AGENT", BROWSER)
    return client.get(path, **extra)


def location(response) -> str | None:
    return dict(response.headers).get("Location")


def test_redirect_is_302_to_the_destination_and_counts_the_click(client, link, message):
    response = get(client, f"/l/{link.code}", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    assert location(response) == link.url
    assert dict(response.headers)["Cache-Control"] == "private, no-store"
    [click] = Click.objects.all()
    assert click.kind == Click.Kind.HUMAN
    assert (click.link_id, click.message_id, click.contact_id) == (
        link.code,
        message.pk,
        message.contact_id,
    )
    assert (click.campaign_id, click.run_id) == (message.campaign_id, message.run_id)
    assert click.workspace_id == message.workspace_id
    assert click.user_agent == BROWSER
    assert click.ip_hash == ip_hash("203.0.113.9") and "203.0.113.9" not in click.ip_hash
    assert contact_clicks_count() == 1
    message.contact.refresh_from_db()
    assert message.contact.click_count == 1
    assert message.contact.last_clicked_at == click.clicked_at


def test_each_click_counts_again(client, link, message):
    for _ in range(3):
        assert get(client, f"/l/{link.code}").status_code == 302
    assert contact_clicks_count() == 3
    message.contact.refresh_from_db()
    assert message.contact.click_count == 3
    assert Click.objects.filter(kind="human").count() == 3


@pytest.mark.parametrize(
    "agent",
    [
        "",
        "facebookexternalhit/1.1 Facebot Twitterbot/1.0",  # iMessage's link preview
        "WhatsApp/2.23.20.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "python-requests/2.32.3",
        "curl/8.5.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) HeadlessChrome/120.0.0.0 Safari/537.36",
    ],
)
def test_bots_and_previews_are_redirected_and_stored_but_not_counted(client, link, message, agent):
    response = get(client, f"/l/{link.code}", HTTP_USER_AGENT=agent)
    assert (response.status_code, location(response)) == (302, link.url)
    assert Click.objects.get().kind == Click.Kind.BOT
    assert contact_clicks_count() == 0
    message.contact.refresh_from_db()
    assert (message.contact.click_count, message.contact.last_clicked_at) == (0, None)


def test_head_is_a_prefetch_not_a_click(client, link, message):
    response = client.head(f"/l/{link.code}", HTTP_USER_AGENT=BROWSER)
    assert (response.status_code, location(response)) == (302, link.url)
    assert Click.objects.get().kind == Click.Kind.HEAD
    assert contact_clicks_count() == 0
    message.contact.refresh_from_db()
    assert message.contact.click_count == 0


@pytest.mark.parametrize(("sent_ago", "kind"), [(0.2, "scanner"), (120, "human")])
def test_email_link_opened_right_after_sending_is_a_scanner(client, workspace, sent_ago, kind):
    sent = timezone.now() - timedelta(seconds=sent_ago)
    email = CampaignMessageFactory(
        workspace=workspace, channel="email", status="sent", sent_at=sent, delivered_at=None
    )
    link = TrackedLinkFactory(message=email)
    assert get(client, f"/l/{link.code}").status_code == 302
    assert Click.objects.get().kind == kind


def test_sms_opened_right_after_delivery_is_a_person(client, workspace):
    sms = CampaignMessageFactory(workspace=workspace, delivered_at=timezone.now())
    link = TrackedLinkFactory(message=sms)
    assert get(client, f"/l/{link.code}").status_code == 302
    assert Click.objects.get().kind == Click.Kind.HUMAN


@pytest.mark.parametrize(
    "path",
    [
        "/l/AAAAAAAAAAAA",  # well formed, no such link
        "/l/short",
        "/l/abcdefghijklmnop",
        "/l/",
        "/l/abc$%^&*()!@",
        "/l/%E2%82%AC%E2%82%AC%E2%82%AC%E2%82%AC",
        "/l/../../etc/passwd",
        "/l/https://evil.example.com",
        "/l/AAAAAAAAAAA%0d%0aLocation:%20https://evil.example.com",
    ],
)
def test_unknown_or_malformed_code_is_a_plain_404_page(client, link, path):
    response = get(client, path)
    assert response.status_code == 404
    assert location(response) is None
    assert b"This link is not valid" in response.content
    assert b"evil" not in response.content
    assert not Click.objects.exists()


def test_code_of_another_case_is_another_code(client, link):
    response = get(client, f"/l/{link.code.swapcase()}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,<script>", "//evil.example.com", "ftp://x.example"],
)
def test_a_stored_destination_that_is_not_http_is_never_redirected_to(client, message, url):
    link = TrackedLink.objects.create(code="B" * 12, message=message, url=url)
    response = get(client, f"/l/{link.code}")
    assert response.status_code == 404
    assert location(response) is None
    assert not Click.objects.exists()


def test_other_methods_are_refused(client, link):
    response = client.post(f"/l/{link.code}", {})
    # 403 from the CSRF check where it runs (the test client skips it), else 405.
    assert response.status_code in (403, 405)
    assert location(response) is None
    assert not Click.objects.exists()


def test_host_not_allowed_is_400(client, link):
    response = get(client, f"/l/{link.code}", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert not Click.objects.exists()


@pytest.mark.parametrize("behind_proxy", [True, False])
def test_behind_the_proxy_the_address_is_the_one_it_names(client, link, settings, behind_proxy):
    settings.HERALD_BEHIND_PROXY = behind_proxy
    response = get(
        client, f"/l/{link.code}", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="203.0.113.77"
    )
    assert response.status_code == 302
    expected = "203.0.113.77" if behind_proxy else "127.0.0.1"
    assert Click.objects.get().ip_hash == ip_hash(expected)


def test_click_whose_message_is_gone_is_dropped(client, link, message):
    # A link row left without its message (written with no constraint) redirects; the click
    # has nothing to belong to.
    TrackedLink.objects.create(code="C" * 12, message_id=message.pk + 1000, url=link.url)
    assert get(client, "/l/" + "C" * 12).status_code == 302
    assert not Click.objects.exists()


@pytest.mark.parametrize("path", ["/l/AAAAAAAAAAAA", "redirect"])
def test_fast_path_answers_with_the_views_headers(link, path):
    path = f"/l/{link.code}" if path == "redirect" else path
    view = get(Client(), path)
    fast = get(WsgiClient(), path)
    # Vary: Cookie is the session middleware's (the workspace middleware looks for a user);
    # neither answer depends on a cookie.
    expected = {k: v for k, v in view.headers.items() if k != "Vary"}
    assert dict(fast.headers) == expected
    assert (fast.status_code, fast.content) == (view.status_code, view.content)


@pytest.mark.django_db(transaction=True)
def test_lookup_prepares_again_on_a_new_connection(client, link):
    from django.db import connection

    assert get(client, f"/l/{link.code}").status_code == 302
    connection.close()  # as CONN_MAX_AGE or a failed connection does between requests
    assert get(client, f"/l/{link.code}").status_code == 302
    assert Click.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_lookups_on_threads_with_their_own_connections_take_turns(link):
    """gunicorn's gthread workers: each thread has its own connection, and whichever thread
    leads a batch of lookups runs the prepared statement on its own. A thread going back to
    its connection after another thread prepared on another one must not prepare again
    (PostgreSQL refuses: 'prepared statement already exists', every redirect a 500)."""
    import threading

    from django.db import connection

    from engagement.redirects import links_find

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    turns = [threading.Event() for _ in range(3)]
    found, failures = [], []

    def thread(mine: list[int]) -> None:
        try:
            for turn, event in enumerate(turns):
                if turn in mine:
                    found.append(links_find([link.code]).get(link.code))
                    event.set()
                else:
                    event.wait(10)
        except Exception as exc:  # noqa: BLE001 (reported by the test thread)
            failures.append(exc)
            for event in turns:
                event.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=thread, args=(mine,)) for mine in ([0, 2], [1])]
    for each in threads:
        each.start()
    for each in threads:
        each.join(30)
    assert failures == []
    assert found == [(link.url, link.message_id)] * 3
