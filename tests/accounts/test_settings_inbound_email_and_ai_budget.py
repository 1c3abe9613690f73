"""The settings page's inbound email section: the webhook address, and the secret that only
owners and admins see and renew."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

SETTINGS = reverse("accounts:workspace-settings")
NEW_SECRET = reverse("accounts:inbound-email-secret")


def test_owner_makes_a_secret_and_sees_the_webhook(client_logged_in, workspace, settings):
    settings.PUBLIC_BASE_URL = "https://herald.example.com"
    settings.PUBLIC_BASE_URL_SET = True
    page = client_logged_in.get(SETTINGS).content.decode()
    url = f"https://herald.example.com/webhooks/email/inbound/{workspace.pk}"
    assert f'<code id="inbound-email-url">{url}</code>' in page
    assert "this page's address" not in page
    assert "this workspace takes no inbound email" in page
    response = client_logged_in.post(NEW_SECRET)
    assert response.status_code == 302
    workspace.refresh_from_db()
    first = workspace.inbound_email_secret
    assert len(first) == 48
    assert first in client_logged_in.get(SETTINGS).content.decode()
    client_logged_in.post(NEW_SECRET)
    workspace.refresh_from_db()
    assert workspace.inbound_email_secret not in ("", first)


def test_members_neither_see_nor_renew_the_secret(member_client, workspace):
    workspace.inbound_email_secret = "s3cret-value-for-the-test"
    workspace.save()
    page = member_client.get(SETTINGS).content.decode()
    assert "s3cret-value-for-the-test" not in page and "owners and admins see it" in page
    assert member_client.post(NEW_SECRET).status_code == 403
    workspace.refresh_from_db()
    assert workspace.inbound_email_secret == "s3cret-value-for-the-test"


def test_renewing_needs_csrf(user, workspace):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(NEW_SECRET).status_code == 403
    workspace.refresh_from_db()
    assert workspace.inbound_email_secret == ""


def test_owner_sets_the_daily_ai_budget_and_bad_values_are_refused(client_logged_in, workspace):
    data = {
        "name": "Acme",
        "default_region": "US",
        "timezone": "America/New_York",
        "quiet_start_hour": 8,
        "quiet_end_hour": 21,
        "frequency_cap_hours": 24,
        "ai_daily_tokens": "20000",
    }
    assert client_logged_in.post(SETTINGS, data).status_code == 302
    workspace.refresh_from_db()
    assert workspace.ai_daily_tokens == 20_000
    response = client_logged_in.post(SETTINGS, {**data, "ai_daily_tokens": "0"})
    assert response.status_code == 200 and "Between 1,000 and" in response.content.decode()
    workspace.refresh_from_db()
    assert workspace.ai_daily_tokens == 20_000
    client_logged_in.post(SETTINGS, {**data, "ai_daily_tokens": ""})
    workspace.refresh_from_db()
    assert workspace.ai_daily_tokens is None


@pytest.mark.parametrize(
    ("host", "secure", "expected"),
    [
        ("127.0.0.1:8457", False, "http://127.0.0.1:8457"),
        ("localhost:9000", False, "http://localhost:9000"),
        ("herald.example.com", True, "https://herald.example.com"),
    ],
)
def test_without_public_base_url_the_webhook_is_this_pages_address(
    client_logged_in, workspace, settings, host, secure, expected
):
    """Unset, PUBLIC_BASE_URL's default names port 8000 whatever port the server runs on:
    the page shows the address it was reached at instead, and says where to set it."""
    settings.PUBLIC_BASE_URL = "http://localhost:8000"
    settings.PUBLIC_BASE_URL_SET = False
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "herald.example.com"]
    page = client_logged_in.get(SETTINGS, HTTP_HOST=host, secure=secure).content.decode()
    url = f"{expected}/webhooks/email/inbound/{workspace.pk}"
    assert f'<code id="inbound-email-url">{url}</code>' in page
    assert "localhost:8000" not in page and "set <code>PUBLIC_BASE_URL</code>" in page


def test_public_base_url_set_from_the_environment():
    """The settings know whether the variable was given (an empty one counts as unset)."""
    import os
    import subprocess
    import sys

    code = "import config.settings as s; print(s.PUBLIC_BASE_URL, s.PUBLIC_BASE_URL_SET)"
    env = {k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"}
    env.update(DJANGO_SECRET_KEY="x" * 50, DJANGO_DEBUG="0")

    def run(**extra):
        done = subprocess.run(
            [sys.executable, "-c", code], env={**env, **extra}, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert run(PUBLIC_BASE_URL="https://h.example.com/") == ["https://h.example.com", "True"]
    assert run(PUBLIC_BASE_URL="") == ["http://localhost:8000", "False"]
    assert run() == ["http://localhost:8000", "False"]
