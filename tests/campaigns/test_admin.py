"""Django admin for campaigns and their runs (SPEC: every model, with filters and search)."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign, CampaignRun
from tests.campaigns.helpers import make_campaign, make_group, make_sender
from tests.factories import UserFactory


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def campaign(workspace, other_workspace):
    group = make_group(workspace, 2)
    campaign = make_campaign(
        workspace,
        group,
        name="Spring <b>sale</b>",
        sender=make_sender(workspace),
        state=Campaign.State.RUNNING,
    )
    CampaignRun.objects.create(
        workspace=workspace,
        campaign=campaign,
        occurrence_at=datetime(2026, 5, 1, 9, tzinfo=UTC),
        state=CampaignRun.State.RUNNING,
        total=2,
    )
    make_campaign(other_workspace, make_group(other_workspace, 1), name="Autumn offer")
    return campaign


@pytest.mark.parametrize("model", ["campaign", "campaignrun"])
def test_admin_lists_filters_searches_and_opens(admin_client, campaign, model):
    url = reverse(f"admin:campaigns_{model}_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "Spring &lt;b&gt;sale&lt;/b&gt;" in page.content.decode()
    found = admin_client.get(url, {"q": "Spring"}).content.decode()
    assert "Spring &lt;b&gt;sale" in found and "Autumn offer" not in found
    filtered = admin_client.get(url, {"state__exact": "running"}).content.decode()
    assert "Spring &lt;b&gt;sale" in filtered and "Autumn offer" not in filtered
    obj = campaign if model == "campaign" else campaign.runs.get()
    change = admin_client.get(reverse(f"admin:campaigns_{model}_change", args=[obj.pk]))
    assert change.status_code == 200


def test_admin_campaign_page_lists_its_runs(admin_client, campaign):
    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert "2026-05-01" in page.content.decode() or "May 1, 2026" in page.content.decode()


def test_every_herald_model_is_in_the_admin():
    """SPEC: admins use Django admin, every model registered."""
    from django.apps import apps
    from django.contrib import admin

    ours = {"accounts", "contacts", "campaigns", "messaging", "conversations", "engagement",
            "audiences", "api", "core"}  # fmt: skip
    missing = [
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label in ours and not admin.site.is_registered(model)
    ]
    assert missing == []
