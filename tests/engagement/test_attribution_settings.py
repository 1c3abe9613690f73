"""The workspace's attribution windows and revenue currency (E3), on their settings page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Workspace
from engagement.clicks import PendingClick, clicks_store
from engagement.conversions import conversion_create
from engagement.models import Conversion

from .factories import CampaignMessageFactory, TrackedLinkFactory

pytestmark = pytest.mark.django_db
URL = "/workspace/attribution/"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
VALID = {"click_window_days": "10", "delivered_window_hours": "48", "currency": "EUR"}


def settings_of(workspace) -> tuple:
    workspace.refresh_from_db()
    return (workspace.click_window_days, workspace.delivered_window_hours, workspace.currency)


def test_page_shows_the_current_settings_and_is_linked_from_workspace_settings(
    client_logged_in,
):
    assert reverse("engagement:attribution-settings") == URL
    page = client_logged_in.get(URL).content.decode()
    assert 'name="click_window_days" value="5"' in page
    assert 'name="delivered_window_hours" value="24"' in page
    assert '<option value="USD" selected>USD — US Dollar</option>' in page
    assert '<option value="XAU"' not in page  # gold has no minor units: not money
    workspace_page = client_logged_in.get(reverse("accounts:workspace-settings")).content
    assert f'href="{URL}"'.encode() in workspace_page


def test_owner_changes_them_and_conversions_use_them(client_logged_in, workspace):
    response = client_logged_in.post(URL, VALID)
    assert response.status_code == 302 and response.url == URL
    assert settings_of(workspace) == (10, 48, "EUR")
    # A click 8 days ago is inside the new 10-day window.
    message = CampaignMessageFactory(workspace=workspace)
    link = TrackedLinkFactory(message=message)
    at = timezone.now() - timedelta(days=8)
    clicks_store([PendingClick(link.code, message.pk, at, "GET", BROWSER, "192.0.2.1")])
    conversion, _ = conversion_create(
        workspace=workspace,
        name="order",
        identifier={"contact_id": message.contact_id},
        revenue=Decimal("9.99"),
    )
    assert (conversion.attributed_to, conversion.currency) == ("click", "EUR")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("click_window_days", "0"),
        ("click_window_days", "91"),
        ("click_window_days", "abc"),
        ("delivered_window_hours", "-1"),
        ("delivered_window_hours", "721"),
        ("delivered_window_hours", ""),
        ("currency", "XYZ"),
        ("currency", "XAU"),
        ("currency", "eur<script>"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(client_logged_in, workspace, field, value):
    response = client_logged_in.post(URL, {**VALID, field: value})
    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="id_{field}"' in page.split('class="field has-error"')[1]
    assert "<script>" not in page
    assert settings_of(workspace) == (5, 24, "USD")


def test_zero_delivered_hours_credits_only_clicks(client_logged_in, workspace):
    response = client_logged_in.post(URL, {**VALID, "delivered_window_hours": "0"})
    assert response.status_code == 302
    assert settings_of(workspace) == (10, 0, "EUR")
    message = CampaignMessageFactory(workspace=workspace, delivered_at=timezone.now())
    conversion, _ = conversion_create(
        workspace=workspace, name="order", identifier={"contact_id": message.contact_id}
    )
    assert conversion.attributed_to == ""


def test_currency_is_fixed_once_revenue_is_recorded(client_logged_in, workspace):
    message = CampaignMessageFactory(workspace=workspace)
    identifier = {"contact_id": message.contact_id}
    conversion_create(workspace=workspace, name="signup", identifier=identifier)
    assert client_logged_in.post(URL, {**VALID, "currency": "GBP"}).status_code == 302
    conversion_create(
        workspace=workspace, name="order", identifier=identifier, revenue=Decimal("5")
    )
    response = client_logged_in.post(URL, VALID)
    assert response.status_code == 400
    assert "Revenue is already recorded in GBP" in response.content.decode()
    assert settings_of(workspace) == (10, 48, "GBP")
    # The windows still change when the currency stays.
    client_logged_in.post(URL, {**VALID, "click_window_days": "3", "currency": "GBP"})
    assert settings_of(workspace) == (3, 48, "GBP")


def test_another_workspaces_revenue_does_not_fix_the_currency(
    client_logged_in, workspace, other_workspace
):
    stranger = CampaignMessageFactory(workspace=other_workspace)
    conversion_create(
        workspace=other_workspace,
        name="order",
        identifier={"contact_id": stranger.contact_id},
        revenue=Decimal("5"),
    )
    assert Conversion.objects.exists()
    assert client_logged_in.post(URL, VALID).status_code == 302
    assert settings_of(workspace) == (10, 48, "EUR")
    assert Workspace.objects.get(pk=other_workspace.pk).currency == "USD"


def test_members_see_them_but_cannot_change_them(member_client, workspace):
    page = member_client.get(URL).content.decode()
    assert "Only owners and admins can change these settings." in page
    assert member_client.post(URL, VALID).status_code == 403
    assert settings_of(workspace) == (5, 24, "USD")


def test_needs_login_and_csrf(user, workspace):
    assert Client().get(URL).status_code == 302
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(URL, VALID).status_code == 403
    assert settings_of(workspace) == (5, 24, "USD")
