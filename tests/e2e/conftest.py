"""Playwright on the system Chromium (Playwright's own browser download cannot work here)."""

import os
import shutil

import pytest
from playwright.sync_api import expect

# Playwright's sync API runs an event loop in this thread; the tests still use the ORM.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("HERALD_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page; at the end, the console must show no Content-Security-Policy violation."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    # Ceilings, not waits (every wait polls for its condition): high enough that a shared
    # machine at a load of 30 on two cores (seen here) is slow, not failing.
    page.set_default_timeout(30_000)
    expect.set_options(timeout=30_000)  # 5 s by default
    page.set_default_navigation_timeout(60_000)
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.console_messages = console
    yield page
    context.close()
    violations = [line for line in console if "Content Security Policy" in line]
    assert not violations, violations


@pytest.fixture
def logged_in_page(page, live_server, transactional_db):
    """A browser page logged in as the owner of workspace “acme”."""
    from accounts.models import Membership
    from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

    workspace = WorkspaceFactory(name="Acme", slug="acme")
    user = UserFactory(username="owner")
    MembershipFactory(user=user, workspace=workspace, role=Membership.Role.OWNER)
    # The live server's first request imports the URLconf and every view: on a loaded
    # machine (2 cores, many test runs) that alone took 14 s, near the 15 s default.
    page.goto(f"{live_server.url}/login/", timeout=90_000)
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/contacts/**")
    page.workspace = workspace
    page.base_url = live_server.url
    return page
