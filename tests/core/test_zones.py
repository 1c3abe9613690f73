"""Time zones and phone regions offered by country name (core/zones.py, core/forms.py), and
times shown in the workspace's zone with the zone named (core/templatetags/when.py)."""

from datetime import UTC, datetime

from django import forms
from django.template import Context, Template
from django.utils import timezone

from core.forms import RegionField, TimeZoneField
from core.zones import region_choices, timezone_choices, timezone_choices_with


def test_zones_are_labelled_with_their_country():
    labels = dict(timezone_choices())
    assert labels["America/New_York"] == "America/New York — United States"
    assert labels["Europe/Berlin"] == "Europe/Berlin — Germany"
    assert labels["UTC"] == "UTC"
    assert "US/Eastern" not in labels  # old aliases are not offered…
    assert timezone_choices_with("US/Eastern")[0] == ("US/Eastern", "US/Eastern")  # …but kept


def test_regions_are_labelled_with_country_names_and_calling_codes():
    labels = dict(region_choices())
    assert labels["US"] == "United States (US, +1)"
    assert labels["GB"] == "United Kingdom (Britain) (GB, +44)"
    assert labels["XK"] == "Kosovo (XK, +383)"  # not in ISO 3166, still named


class _Form(forms.Form):
    timezone = TimeZoneField()
    region = RegionField()


def test_fields_accept_any_zone_and_only_known_regions():
    assert _Form({"timezone": "US/Eastern", "region": "DE"}).is_valid()  # an alias is a zone
    form = _Form({"timezone": "Mars/Olympus", "region": "ZZ"})
    assert not form.is_valid() and set(form.errors) == {"timezone", "region"}
    html = str(_Form()["timezone"])
    assert (
        'data-search="Find a zone by city or country"' in html
        and "America/New York — United States" in html
    )


def test_when_names_the_active_zone():
    template = Template("{% load when %}{{ at|when }} · {{ at|clock }} · {{ none|when }}")
    at = datetime(2026, 7, 4, 16, 30, tzinfo=UTC)
    with timezone.override("America/Los_Angeles"):
        rendered = template.render(Context({"at": at, "none": None}))
        assert rendered == "2026-07-04 09:30 PDT · 09:30 PDT · "
    with timezone.override("UTC"):
        assert template.render(Context({"at": at})).startswith("2026-07-04 16:30 UTC")


def test_contact_form_and_builder_offer_zones_by_country(client_logged_in, workspace):
    from tests.campaigns.helpers import make_campaign, make_group

    html = client_logged_in.get("/contacts/new/").content.decode()
    assert '<option value="" selected>From the phone number</option>' in html
    assert "America/New York — United States" in html
    campaign = make_campaign(workspace, make_group(workspace, 1), timezone="Europe/Berlin")
    html = client_logged_in.get(f"/campaigns/{campaign.pk}/build/schedule/").content.decode()
    assert 'data-search="Find a zone by city or country"' in html
    assert '<option value="Europe/Berlin" selected>Europe/Berlin — Germany</option>' in html
