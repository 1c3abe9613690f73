"""Content-Security-Policy and Cache-Control on what Herald serves (issue 13, item 9)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from contacts.models import Contact, ExportJob, JobStatus
from tests.campaigns.helpers import make_campaign, make_group

TEMPLATES = Path(settings.BASE_DIR, "templates")


def assert_private(response):
    cache = response.get("Cache-Control", "")
    assert "private" in cache and "no-store" in cache, cache


def assert_strict_csp(response):
    policy = response.get("Content-Security-Policy", "")
    assert "script-src 'self'" in policy, policy
    assert "style-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.fixture
def staff_client(user) -> Client:
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_pages_have_csp_and_are_not_stored(staff_client, workspace):
    group = make_group(workspace, 2)
    campaign = make_campaign(workspace, group)
    contact = Contact.objects.for_workspace(workspace).first()
    urls = [
        reverse("contacts:contact-list"),
        reverse("contacts:contact-list") + f"?group={group.pk}",
        reverse("contacts:contact-detail", args=[contact.pk]),
        reverse("campaigns:campaign-list"),
        reverse("campaigns:campaign-detail", args=[campaign.pk]),
        reverse("accounts:workspace-settings"),
        reverse("contacts:import-start"),
        reverse("admin:index"),
        "/api/v1/docs",
    ]
    for url in urls:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert_strict_csp(response)
        assert_private(response)
    # An htmx fragment too.
    fragment = staff_client.get(reverse("contacts:contact-list"), HTTP_HX_REQUEST="true")
    assert_private(fragment)


def test_login_page_has_csp(db):
    response = Client().get(reverse("login"))
    assert_strict_csp(response)
    assert_private(response)


def test_api_responses_are_not_stored(api_client, workspace):
    response = api_client.get("/api/v1/contacts")
    assert response.status_code == 200
    assert_private(response)
    assert_private(api_client.get("/api/v1/contacts/999999"))


def test_downloads_are_not_stored(client_logged_in, workspace, user):
    campaign = make_campaign(workspace, make_group(workspace, 1))
    csv = client_logged_in.get(reverse("campaigns:campaign-csv", args=[campaign.pk]))
    assert csv.status_code == 200
    assert_private(csv)
    job = ExportJob.objects.create(workspace=workspace, status=JobStatus.COMPLETED, created_by=user)
    job.file.save("export.csv", ContentFile(b"first_name\nAnn\n"))
    download = client_logged_in.get(reverse("contacts:export-download", args=[job.pk]))
    assert download.status_code == 200
    assert_private(download)


def test_static_files_keep_their_cache(db):
    response = Client().get("/static/css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=str)
def test_templates_need_no_unsafe_inline(template):
    """The CSP forbids inline script, event-handler attributes and style attributes."""
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text)
    assert not EVENT_HANDLER.search(text)
    assert not STYLE_ATTRIBUTE.search(text)
    assert not re.search(r"hx-on|hx-vals=['\"]js:|hx-trigger=\"[^\"]*\[", text)
