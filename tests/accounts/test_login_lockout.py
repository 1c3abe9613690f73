"""Brute-force protection on the login forms (django-axes), through the real forms."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"
LOGIN_PATHS = ["/login/", "/admin/login/"]


def attempt(path: str, username: str, password: str, ip: str = "203.0.113.5", **headers):
    client = Client(REMOTE_ADDR=ip, **headers)
    response = client.post(path, {"username": username, "password": password})
    return client, response


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def staff(db):
    return UserFactory(username="alice", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("path", LOGIN_PATHS)
def test_login_locks_username_after_failures(path, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client, response = attempt(path, "alice", "wrong", ip="203.0.113.5")
        assert response.status_code == 200 and not logged_in(client)
    # The failure that reaches the limit is answered with the lockout page.
    assert attempt(path, "alice", "wrong", ip="203.0.113.6")[1].status_code == 429
    # The right password no longer helps, and neither does another address.
    client, response = attempt(path, "alice", PASSWORD, ip="198.51.100.7")
    assert response.status_code == 429
    assert not logged_in(client)
    assert b"Too many failed logins" in response.content


@pytest.mark.parametrize("path", LOGIN_PATHS)
def test_login_locks_address_after_failures_on_many_usernames(path, staff, settings):
    UserFactory(username="bob", is_staff=True)
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(path, f"guess{n}", "wrong", ip="203.0.113.9")
    client, response = attempt(path, "bob", PASSWORD, ip="203.0.113.9")
    assert response.status_code == 429 and not logged_in(client)
    # Bob from his own address is not affected.
    client, response = attempt(path, "bob", PASSWORD, ip="198.51.100.20")
    assert response.status_code == 302 and logged_in(client)


def test_login_failures_below_limit_do_not_lock(staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt("/login/", "alice", "wrong")
    client, response = attempt("/login/", "alice", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_login_lockout_ends_after_cool_off(staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt("/login/", "alice", "wrong")
    assert attempt("/login/", "alice", PASSWORD)[1].status_code == 429
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    client, response = attempt("/login/", "alice", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_login_lockout_lifted_by_reset_command(staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt("/login/", "alice", "wrong", ip="203.0.113.5")
    call_command("axes_reset_username", "alice")
    call_command("axes_reset_ip", "203.0.113.5")
    client, response = attempt("/login/", "alice", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_login_address_from_proxy_header_only_behind_proxy(staff, settings):
    """Behind nginx every request comes from 127.0.0.1: X-Real-IP tells clients apart."""
    UserFactory(username="bob")
    with override_settings(HERALD_BEHIND_PROXY=True):
        for n in range(settings.AXES_FAILURE_LIMIT):
            attempt("/login/", f"guess{n}", "wrong", ip="127.0.0.1", HTTP_X_REAL_IP="203.0.113.9")
        client, response = attempt(
            "/login/", "bob", PASSWORD, ip="127.0.0.1", HTTP_X_REAL_IP="198.51.100.20"
        )
        assert response.status_code == 302 and logged_in(client)
        _, response = attempt(
            "/login/", "bob", PASSWORD, ip="127.0.0.1", HTTP_X_REAL_IP="203.0.113.9"
        )
        assert response.status_code == 429
    # Without the proxy a client cannot pick its address with the header.
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt("/login/", f"other{n}", "wrong", ip="192.0.2.1", HTTP_X_REAL_IP=f"10.9.9.{n}")
    assert AccessAttempt.objects.filter(ip_address="192.0.2.1").count() == 5
