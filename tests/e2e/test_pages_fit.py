"""Pages that fit: every page of the dashboard (found in the URL conf), at 1280 and 390 px
wide, is no wider than the window (nothing scrolls sideways); at 1280 px every table shows all
its columns too, except a table marked data-scrolls-sideways (an import preview has as many
columns as the file)."""

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.pages import build_world, dashboard_urls

pytestmark = pytest.mark.e2e
WIDTHS = [1280, 390]
CLIPPED_TABLES = """[...document.querySelectorAll('.table-container:not([data-scrolls-sideways])')]
    .filter((box) => box.scrollWidth > box.clientWidth)
    .map((box) => `${box.scrollWidth}px wide in ${box.clientWidth}px`)"""
SHOTS = os.environ.get("HERALD_SHOTS")  # a folder: a screenshot of every page at each width


def _pages(urls: list[str], user) -> list[str]:
    """The URLs that answer a GET with a whole HTML page (not an action, a file or a redirect)."""
    client = Client()
    client.force_login(user)
    pages = []
    for url in urls:
        response = client.get(url)
        whole_page = response.status_code in {200, 404} and not response.streaming
        if whole_page and "<html" in response.content.decode(errors="replace")[:500]:
            pages.append(url)
    return pages


def test_every_page_fits_the_window(logged_in_page, tmp_path):
    page = logged_in_page
    user = get_user_model().objects.get(username="owner")
    urls, missing = dashboard_urls(build_world(page.workspace, user))
    assert not missing, f"add these pages' objects to tests/pages.py build_world: {missing}"
    pages = _pages(urls, user)
    assert len(pages) >= 25, pages
    too_wide = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for url in pages:
            page.goto(f"{page.base_url}{url}")
            scroll, client = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            name = url.strip("/").replace("/", "_") or "home"
            if SHOTS:
                page.screenshot(path=Path(SHOTS) / f"{width}-{name}.png", full_page=True)
            if scroll > client:
                page.screenshot(path=tmp_path / f"{width}-{name}.png", full_page=True)
                too_wide.append(f"{url} at {width}px: {scroll}px wide")
            if width == 1280:
                too_wide.extend(f"{url}: a table {w}" for w in page.evaluate(CLIPPED_TABLES))
    assert not too_wide, "\n".join(too_wide)
