"""The settings page's inbound email section: the webhook address, and the secret that only
owners and admins see and renew."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

SETTINGS = reverse("accounts:workspace-settings")
NEW_SECRET = reverse("accounts:inbound-email-secret")


def test_owner_makes_a_secret_and_sees_the_webhook(client_logged_in, workspace, settings):
    settings.PUBLIC_BASE_URL = "https://herald.example.com"
    page = client_logged_in.get(SETTINGS).content.decode()
    assert f"https://herald.example.com/webhooks/email/inbound/{workspace.pk}" in page
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
