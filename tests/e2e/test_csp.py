"""The Content-Security-Policy forbids inline script and style: the pages still work.

Every e2e test fails on a CSP violation in the console (see conftest's `page`); this one
walks the pages that used inline code before (the filters' htmx trigger, the workspace
switcher, the import mapping, progress bars) plus Django admin and the API reference.
"""

import re

from playwright.sync_api import expect

from accounts.models import Membership
from tests.campaigns.helpers import make_campaign, make_group
from tests.factories import ContactFactory, MembershipFactory, WorkspaceFactory


def test_pages_work_under_csp(logged_in_page):
    page = logged_in_page
    workspace = page.workspace
    group = make_group(workspace, 3)
    ContactFactory(workspace=workspace, first_name="Zed", last_name="Quill", in_groups=[group])
    campaign = make_campaign(workspace, group)
    owner = Membership.objects.get(workspace=workspace).user
    owner.is_staff = owner.is_superuser = True
    owner.save()

    # A filter change refreshes the table through htmx (it used an eval'd trigger filter).
    page.goto(f"{page.base_url}/contacts/")
    page.get_by_label("Status").select_option("opted_out")
    expect(page).to_have_url(re.compile(r"status=opted_out"))
    expect(page.locator("#contact-table tbody tr")).to_have_count(1)  # the "no contacts" row
    page.get_by_label("Status").select_option("")
    page.get_by_label("Search").fill("quill")
    expect(page.locator("#contact-table tbody tr")).to_have_count(1)
    expect(page.locator("#contact-table")).to_contain_text("Zed")

    page.goto(f"{page.base_url}/campaigns/{campaign.pk}/")
    expect(page.locator(".progress svg rect")).to_have_count(1)

    page.goto(f"{page.base_url}/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto(f"{page.base_url}/api/v1/docs")
    expect(page.locator(".swagger-ui .info")).to_be_visible()


def test_workspace_switcher_submits_without_inline_handler(logged_in_page):
    page = logged_in_page
    other = WorkspaceFactory(name="Zenith", slug="zenith")
    owner = Membership.objects.get(workspace=page.workspace).user
    MembershipFactory(user=owner, workspace=other, role=Membership.Role.MEMBER)
    page.goto(f"{page.base_url}/contacts/")
    page.get_by_label("Workspace").select_option(label="Zenith")
    expect(page.locator(".flash-success")).to_contain_text("Switched to Zenith.")
