"""One phone number, one workspace (issue 13, item 1): the database, the sender form, the API,
the admin and Twilio's list of the account's numbers all refuse a number another workspace
holds, and the inbound webhook routes a number to the workspace that holds it."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from contacts.models import Contact
from messaging.models import InboundMessage, PhoneNumber, Sender
from messaging.senders import (
    MANAGERS_ONLY,
    NUMBER_NOT_IN_ACCOUNT,
    NUMBER_TAKEN,
    NUMBER_UNCHECKED,
    sender_create,
    sender_update,
)
from tests.factories import ContactFactory, MembershipFactory, UserFactory
from tests.fakes.fixtures import *  # noqa: F403 (fake Twilio fixtures)

from .helpers import inbound_params, signed_post

pytestmark = pytest.mark.django_db
NUMBER = "+14155559999"


def _sms(workspace, number=NUMBER, channel="sms") -> Sender:
    return sender_create(workspace=workspace, data={"channel": channel, "address": number})


# The database ------------------------------------------------------------------------------


def test_database_refuses_a_phone_sender_without_its_workspaces_claim(workspace, other_workspace):
    claim = _sms(workspace).claim
    assert claim.key == f"{workspace.pk}:{NUMBER}"
    attempts = [
        # B's sender pointing at A's claim
        {"workspace": other_workspace, "claim": claim},
        # no claim at all
        {"workspace": other_workspace, "claim": None},
        # A's claim on another number
        {"workspace": workspace, "claim": claim, "address": "+14155550000"},
    ]
    for fields in attempts:
        row = {"channel": "voice", "address": NUMBER, **fields}
        with pytest.raises(IntegrityError), transaction.atomic():
            Sender.objects.create(**row)
    # and a second claim on the number, or a claim whose key names another workspace
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumber.objects.create(
            workspace=other_workspace, number=NUMBER, key=f"{other_workspace.pk}:{NUMBER}"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneNumber.objects.create(
            workspace=other_workspace, number="+14155550000", key=f"{workspace.pk}:+14155550000"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Sender.objects.create(
            workspace=workspace, channel="email", address="a@example.com", claim=claim
        )
    assert Sender.objects.count() == 1 and PhoneNumber.objects.count() == 1


# The service (the form, the API and the admin all go through it) ---------------------------


def test_a_number_is_a_sender_of_one_workspace_sms_and_voice_alike(workspace, other_workspace):
    sms = _sms(workspace)
    voice = _sms(workspace, channel="voice")
    assert sms.claim_id == voice.claim_id  # both channels of the number, one claim
    for channel in ("sms", "voice"):
        with pytest.raises(ValidationError) as refused:
            _sms(other_workspace, number="(415) 555-9999", channel=channel)
        assert refused.value.message_dict == {"address": [NUMBER_TAKEN]}
    assert not Sender.objects.filter(workspace=other_workspace).exists()
    # email senders are not numbers: two workspaces may each have one
    for ws in (workspace, other_workspace):
        sender_create(workspace=ws, data={"channel": "email", "address": "news@example.com"})


def test_changing_or_deleting_the_last_sender_of_a_number_releases_it(workspace, other_workspace):
    sms = _sms(workspace)
    voice = _sms(workspace, channel="voice")
    sender_update(sender=sms, data={"channel": "sms", "address": "+14155550000"})
    assert PhoneNumber.objects.filter(number=NUMBER).exists()  # the voice sender keeps it
    sender_update(sender=voice, data={"channel": "email", "address": "hi@example.com"})
    assert set(PhoneNumber.objects.values_list("number", flat=True)) == {"+14155550000"}
    theirs = _sms(other_workspace)
    assert theirs.claim.workspace == other_workspace
    # deleting the claim (the admin's "release") takes its senders with it
    theirs.claim.delete()
    assert not Sender.objects.filter(pk=theirs.pk).exists()


# Inbound routing ---------------------------------------------------------------------------


def test_stop_to_a_number_reaches_the_workspace_holding_it(client, workspace, other_workspace):
    """The attack of the issue: A registers B's call line and texts from it; B's customer
    texts STOP to it. A's registration is refused, so the STOP lands in B."""
    sender_create(workspace=other_workspace, data={"channel": "voice", "address": NUMBER})
    with pytest.raises(ValidationError):
        _sms(workspace)
    customer = ContactFactory(workspace=other_workspace, phone="+14155550123")
    params = inbound_params("SM" + "2" * 32, body="STOP", from_="+14155550123", to=NUMBER)
    assert signed_post(client, "/webhooks/twilio/inbound", params).status_code == 200
    customer.refresh_from_db()
    assert customer.status == Contact.Status.OPTED_OUT
    assert InboundMessage.objects.get().workspace == other_workspace
    assert not Contact.objects.filter(workspace=workspace).exists()


# The sender form ----------------------------------------------------------------------------


def test_form_refuses_another_workspaces_number_with_a_clear_message(
    client_logged_in, workspace, other_workspace
):
    _sms(other_workspace)
    url = reverse("campaigns:sender-new")
    response = client_logged_in.post(url, {"channel": "sms", "address": NUMBER})
    assert response.status_code == 200
    assert "belongs to another Herald workspace" in response.content.decode()
    assert not Sender.objects.filter(workspace=workspace).exists()


def test_members_cannot_assign_numbers_but_may_add_email_senders(member_client, workspace):
    url = reverse("campaigns:sender-new")
    response = member_client.post(url, {"channel": "sms", "address": NUMBER})
    assert response.status_code == 403
    assert MANAGERS_ONLY in response.content.decode()
    assert not PhoneNumber.objects.exists() and not Sender.objects.exists()
    email = {"channel": "email", "address": "news@example.com", "rate_limit_per_second": "1"}
    assert member_client.post(url, email).status_code == 302
    # nor turn an email sender into a number, nor edit a number's sender
    sender = Sender.objects.get()
    edit = reverse("campaigns:sender-edit", args=[sender.pk])
    assert member_client.post(edit, {"channel": "sms", "address": NUMBER}).status_code == 403
    number = _sms(workspace)
    edit = reverse("campaigns:sender-edit", args=[number.pk])
    moved = {"channel": "sms", "address": "+14155550000"}
    assert member_client.post(edit, moved).status_code == 403
    number.refresh_from_db()
    assert number.address == NUMBER


def test_admins_assign_numbers(workspace):
    admin = UserFactory()
    MembershipFactory(user=admin, workspace=workspace, role=Membership.Role.ADMIN)
    client = Client()
    client.force_login(admin)
    url = reverse("campaigns:sender-new")
    data = {"channel": "sms", "address": NUMBER, "rate_limit_per_second": "1"}
    assert client.post(url, data).status_code == 302
    assert PhoneNumber.objects.get().claimed_by == admin


# The API --------------------------------------------------------------------------------------


def test_api_refuses_another_workspaces_number(api_client, workspace, other_workspace):
    _sms(other_workspace)
    response = api_client.post(
        "/api/v1/senders", {"channel": "voice", "address": NUMBER}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"address": [NUMBER_TAKEN]}
    assert not Sender.objects.filter(workspace=workspace).exists()


# The admin ------------------------------------------------------------------------------------


def test_admin_refuses_another_workspaces_number(workspace, other_workspace):
    _sms(other_workspace)
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:messaging_sender_add")
    data = {"workspace": workspace.pk, "channel": "sms", "address": NUMBER}
    response = client.post(url, {**data, "name": "", "rate_limit_per_second": "1"})
    assert response.status_code == 200
    assert "belongs to another Herald workspace" in response.content.decode()
    assert not Sender.objects.filter(workspace=workspace).exists()
    data["address"] = "+14155550000"
    response = client.post(url, {**data, "name": "", "rate_limit_per_second": "1"})
    assert response.status_code == 302
    assert Sender.objects.get(workspace=workspace).claim.workspace == workspace
    assert client.get(reverse("admin:messaging_phonenumber_changelist")).status_code == 200


# Twilio's own list of the account's numbers ---------------------------------------------------


def test_with_twilio_only_the_accounts_own_numbers_are_claimed(fake_twilio, workspace):
    fake_twilio.state.phone_numbers = {NUMBER}
    with pytest.raises(ValidationError) as refused:
        _sms(workspace, number="+14155550000")
    assert refused.value.message_dict == {"address": [NUMBER_NOT_IN_ACCOUNT]}
    assert _sms(workspace).claim.number == NUMBER
    asked = [r for r in fake_twilio.state.requests if r.path.endswith("IncomingPhoneNumbers.json")]
    assert [r.query["PhoneNumber"] for r in asked] == [["+14155550000"], [NUMBER]]
    _sms(workspace, channel="voice")  # already the workspace's: Twilio is not asked again
    assert len([r for r in fake_twilio.state.requests if "Incoming" in r.path]) == 2


def test_twilio_unreachable_refuses_instead_of_guessing(fake_twilio, workspace):
    fake_twilio.stop()
    with pytest.raises(ValidationError) as refused:
        _sms(workspace)
    assert refused.value.message_dict == {"address": [NUMBER_UNCHECKED]}
    assert not PhoneNumber.objects.exists()
