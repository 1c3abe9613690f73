"""Counts on the campaign pages use thousands separators (#14 §5)."""

from django.urls import reverse

from tests.campaigns.helpers import make_campaign, make_group


def test_campaign_pages_separate_thousands(client_logged_in, workspace):
    campaign = make_campaign(workspace, make_group(workspace, 1234))
    detail = client_logged_in.get(reverse("campaigns:campaign-detail", args=[campaign.pk]))
    assert '<div class="value">1,234</div><div class="label">Total</div>' in detail.content.decode()
    review = client_logged_in.get(
        reverse("campaigns:campaign-build", args=[campaign.pk, "review"])
    ).content.decode()
    assert "(1,234 contacts)" in review
    assert '<div class="value">1,234</div><div class="label">Will be sent</div>' in review
