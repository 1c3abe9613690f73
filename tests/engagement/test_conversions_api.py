"""POST /api/v1/conversions (E3): identification, attribution, idempotency and bad input."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from engagement import conversions
from engagement.models import Click, Conversion
from tests.factories import ContactFactory, WorkspaceFactory

from .factories import CampaignMessageFactory, TrackedLinkFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/conversions"


def post(client, **body):
    return client.post(URL, json.dumps(body), content_type="application/json")


def click(link, *, ago: timedelta, kind: str = "human") -> Click:
    message = link.message
    return Click.objects.create(
        workspace_id=message.workspace_id,
        link=link,
        message=message,
        campaign_id=message.campaign_id,
        run_id=message.run_id,
        contact_id=message.contact_id,
        kind=kind,
        clicked_at=timezone.now() - ago,
    )


@pytest.fixture
def contact(workspace):
    return ContactFactory(workspace=workspace, phone="+14155550123", email="ann@example.com")


def campaign_message(contact, **fields):
    return CampaignMessageFactory(workspace=contact.workspace, contact=contact, **fields)


def test_unattributed_conversion_still_counts_on_the_contact(api_client, contact):
    response = post(api_client, contact_id=contact.pk, name="purchase", revenue="19.99")
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": body["id"],
        "contact_id": contact.pk,
        "campaign_id": None,
        "message_id": None,
        "attributed_to": None,
    }
    contact.refresh_from_db()
    assert (contact.conversion_count, contact.revenue_total) == (1, Decimal("19.99"))
    assert contact.last_revenue_at is not None
    conversion = Conversion.objects.get()
    assert (conversion.name, conversion.currency) == ("purchase", "USD")


@pytest.mark.parametrize(
    ("field", "value"),
    [("phone", "(415) 555-0123"), ("phone", "+14155550123"), ("email", "ANN@Example.com")],
)
def test_contact_found_by_phone_or_email(api_client, contact, field, value):
    response = post(api_client, **{field: value}, name="signup")
    assert (response.status_code, response.json()["contact_id"]) == (201, contact.pk)


def test_last_click_within_the_window_takes_the_credit(api_client, contact):
    older = TrackedLinkFactory(message=campaign_message(contact))
    newer = TrackedLinkFactory(message=campaign_message(contact))
    click(older, ago=timedelta(days=2))
    click(newer, ago=timedelta(days=1))
    click(older, ago=timedelta(hours=1), kind="bot")  # a preview is not a click
    body = post(api_client, contact_id=contact.pk, name="purchase").json()
    assert body["attributed_to"] == "click"
    assert (body["message_id"], body["campaign_id"]) == (
        newer.message_id,
        newer.message.campaign_id,
    )
    conversion = Conversion.objects.get()
    assert conversion.run_id == newer.message.run_id


def test_click_code_credits_its_own_link(api_client, contact):
    landing = TrackedLinkFactory(message=campaign_message(contact))
    later = TrackedLinkFactory(message=campaign_message(contact))
    click(landing, ago=timedelta(hours=3))
    click(later, ago=timedelta(hours=1))
    body = post(api_client, click_code=landing.code, name="purchase", revenue=5).json()
    assert (body["contact_id"], body["message_id"]) == (contact.pk, landing.message_id)
    assert body["attributed_to"] == "click"


def test_without_a_recent_click_the_last_delivered_message_takes_it(api_client, contact):
    clicked = campaign_message(contact, status="sent", delivered_at=None)
    click(TrackedLinkFactory(message=clicked), ago=timedelta(days=6))
    delivered = campaign_message(contact, delivered_at=timezone.now() - timedelta(hours=2))
    campaign_message(contact, status="failed", delivered_at=None)
    body = post(api_client, contact_id=contact.pk, name="purchase").json()
    assert (body["attributed_to"], body["message_id"]) == ("delivered", delivered.pk)
    assert body["campaign_id"] == delivered.campaign_id


def test_email_accepted_by_the_mail_server_counts_as_delivered(api_client, contact):
    email = campaign_message(
        contact,
        channel="email",
        status="sent",
        sent_at=timezone.now() - timedelta(hours=3),
        delivered_at=None,
    )
    body = post(api_client, contact_id=contact.pk, name="purchase").json()
    assert (body["attributed_to"], body["message_id"]) == ("delivered", email.pk)


def test_windows_are_the_workspaces(api_client, workspace, contact):
    link = TrackedLinkFactory(message=campaign_message(contact, status="sent", delivered_at=None))
    click(link, ago=timedelta(days=8))
    campaign_message(contact, delivered_at=timezone.now() - timedelta(hours=30))
    assert post(api_client, contact_id=contact.pk, name="a").json()["attributed_to"] is None
    workspace.delivered_window_hours = 48
    workspace.save()
    assert post(api_client, contact_id=contact.pk, name="b").json()["attributed_to"] == "delivered"
    workspace.click_window_days = 10
    workspace.save()
    assert post(api_client, contact_id=contact.pk, name="c").json()["attributed_to"] == "click"


def test_attribution_is_as_of_when_it_occurred(api_client, contact):
    link = TrackedLinkFactory(message=campaign_message(contact, delivered_at=None))
    click(link, ago=timedelta(hours=1))
    occurred = (timezone.now() - timedelta(days=1)).isoformat()  # before the click
    body = post(api_client, contact_id=contact.pk, name="purchase", occurred_at=occurred).json()
    assert body["attributed_to"] is None


def test_replay_returns_the_first_conversion_and_changes_nothing(api_client, contact):
    first = post(
        api_client, contact_id=contact.pk, name="purchase", revenue=10, idempotency_key="o-1"
    )
    again = post(
        api_client, contact_id=contact.pk, name="purchase", revenue=10, idempotency_key="o-1"
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    contact.refresh_from_db()
    assert (contact.conversion_count, contact.revenue_total) == (1, Decimal(10))
    assert Conversion.objects.count() == 1


def test_key_used_with_other_data_is_409_and_changes_nothing(api_client, contact):
    post(api_client, contact_id=contact.pk, name="purchase", revenue=10, idempotency_key="o-2")
    response = post(
        api_client, contact_id=contact.pk, name="purchase", revenue=99, idempotency_key="o-2"
    )
    assert response.status_code == 409
    assert "idempotency_key" in response.json()["errors"]
    contact.refresh_from_db()
    assert (contact.conversion_count, contact.revenue_total) == (1, Decimal(10))


def test_keys_are_per_workspace(api_client, contact, other_workspace):
    stranger = ContactFactory(workspace=other_workspace)
    conversions.conversion_create(
        workspace=other_workspace,
        name="purchase",
        identifier={"contact_id": stranger.pk},
        idempotency_key="o-3",
    )
    response = post(api_client, contact_id=contact.pk, name="purchase", idempotency_key="o-3")
    assert response.status_code == 201


def test_same_key_sent_twice_at_once_returns_the_winner(contact, monkeypatch, workspace):
    first, _ = conversions.conversion_create(
        workspace=workspace, name="p", identifier={"contact_id": contact.pk}, idempotency_key="k"
    )
    # The second request looked before the first had committed: its insert hits the key.
    monkeypatch.setattr(conversions, "_by_key", lambda *args: None)
    lookups = iter([None])
    real = Conversion.objects.for_workspace(workspace).get(pk=first.pk)
    monkeypatch.setattr(conversions, "_by_key", lambda *args: next(lookups, real))
    again, created = conversions.conversion_create(
        workspace=workspace, name="p", identifier={"contact_id": contact.pk}, idempotency_key="k"
    )
    assert (again.pk, created) == (first.pk, False)
    contact.refresh_from_db()
    assert contact.conversion_count == 1


def test_another_workspaces_click_code_is_404_and_nothing_is_attributed(api_client, contact):
    foreign = TrackedLinkFactory(message__workspace=WorkspaceFactory())
    click(foreign, ago=timedelta(hours=1))
    response = post(api_client, click_code=foreign.code, name="purchase", revenue=50)
    assert response.status_code == 404
    assert response.json()["errors"] == {
        "click_code": [f"Not found in this workspace: {foreign.code}."]
    }
    assert not Conversion.objects.exists()
    foreign.message.contact.refresh_from_db()
    assert foreign.message.contact.conversion_count == 0


@pytest.mark.parametrize(
    "identifier",
    [
        {"contact_id": 999_999_999},
        {"phone": "+14155559999"},
        {"email": "nobody@example.com"},
        {"click_code": "AAAAAAAAAAAA"},
        {"click_code": "not a code!"},
    ],
)
def test_unknown_contact_or_code_is_404(api_client, contact, identifier):
    response = post(api_client, **identifier, name="purchase")
    assert response.status_code == 404
    assert list(response.json()["errors"]) == list(identifier)
    assert not Conversion.objects.exists()


def test_another_workspaces_contact_id_is_404(api_client, other_workspace):
    stranger = ContactFactory(workspace=other_workspace)
    assert post(api_client, contact_id=stranger.pk, name="purchase").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"revenue": "-5"}, "revenue"),
        ({"revenue": "1000000000.01"}, "revenue"),
        ({"revenue": "1e12"}, "revenue"),
        ({"revenue": "10.005"}, "revenue"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "XAU"}, "currency"),
        ({"currency": "EUR"}, "currency"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"name": "  "}, "name"),
        ({"phone": "+14155550123"}, "__all__"),  # a second identifier
        ({"contact_id": None}, "__all__"),  # none at all
        ({"phone": "12", "contact_id": None}, "phone"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_nothing_is_written(api_client, contact, body, field):
    data = {"contact_id": contact.pk, "name": "purchase", "revenue": "10", **body}
    response = post(api_client, **data)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Conversion.objects.exists()
    contact.refresh_from_db()
    assert (contact.conversion_count, contact.revenue_total) == (0, 0)


@pytest.mark.parametrize(
    "body",
    [
        {"revenue": "ten"},
        {"revenue": "NaN"},
        {"revenue": "Infinity"},
        {"occurred_at": "yesterday"},
        {"name": "x" * 101},
        {"contact_id": "abc"},
        {"contact_id": 2**70},
        {"name": "nul\x00"},
    ],
)
def test_malformed_body_is_422(api_client, contact, body):
    response = post(api_client, **{"contact_id": contact.pk, "name": "purchase", **body})
    assert response.status_code == 422
    assert not Conversion.objects.exists()


def test_currency_minor_units_and_case(api_client, workspace, contact):
    workspace.currency = "JPY"
    workspace.save()
    assert post(api_client, contact_id=contact.pk, name="a", revenue="1500.5").status_code == 400
    response = post(api_client, contact_id=contact.pk, name="a", revenue="1500", currency="jpy")
    assert response.status_code == 201
    assert Conversion.objects.get().currency == "JPY"


def test_time_without_offset_is_utc(api_client, contact):
    post(api_client, contact_id=contact.pk, name="purchase", occurred_at="2026-01-02T03:04:05")
    assert Conversion.objects.get().occurred_at.isoformat() == "2026-01-02T03:04:05+00:00"


def test_needs_an_api_key(client, contact):
    response = post(client, contact_id=contact.pk, name="purchase")
    assert response.status_code == 401
    assert not Conversion.objects.exists()
