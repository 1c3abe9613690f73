import pytest
from django.utils import timezone

from contacts.models import Contact, ContactEvent
from contacts.services import contact_opt_out
from messaging.models import InboundMessage, Message
from tests.factories import ContactFactory

from .factories import MessageFactory, SenderFactory
from .helpers import inbound_params, signed_post

URL = "/webhooks/twilio/inbound"
NUMBER = "+14155559999"
pytestmark = pytest.mark.django_db


@pytest.fixture
def sender(workspace):
    return SenderFactory(workspace=workspace, address=NUMBER)


@pytest.fixture
def contact(workspace):
    return ContactFactory(workspace=workspace, first_name="Ann", phone="+14155550123")


def _send(client, body, *, sid="SM" + "1" * 32, from_="+14155550123", to=NUMBER, **more):
    return signed_post(client, URL, inbound_params(sid, body=body, from_=from_, to=to, **more))


@pytest.mark.parametrize("body", ["STOP", "stop", " Stop. ", "UNSUBSCRIBE!", "optout", "Quit"])
def test_inbound_stop_variants_opt_out_with_reason_message(client, sender, contact, body):
    response = _send(client, body)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Message>You have been unsubscribed" in response.content
    contact.refresh_from_db()
    assert (contact.status, contact.opt_out_reason) == ("opted_out", "message")
    assert ContactEvent.objects.filter(contact=contact, kind="opted_out", reason="message").exists()
    assert InboundMessage.objects.get().action == "opt_out"


@pytest.mark.parametrize("body", ["stop texting me", "STOP STOP", "Stopping by later"])
def test_inbound_sentences_are_not_keywords(client, sender, contact, body):
    response = _send(client, body)
    assert response.content == b'<?xml version="1.0" encoding="UTF-8"?><Response />'
    contact.refresh_from_db()
    assert contact.status == "active"


def test_inbound_opt_out_type_from_twilio_wins(client, sender, contact):
    _send(client, "ARRET", OptOutType="STOP")
    contact.refresh_from_db()
    assert contact.opt_out_reason == "message"


@pytest.mark.parametrize("body", ["START", "yes", "Unstop."])
def test_inbound_start_opts_back_in(client, sender, contact, body):
    contact_opt_out(contact=contact, reason="message")
    response = _send(client, body)
    assert b"resubscribed" in response.content
    contact.refresh_from_db()
    assert contact.status == "active"
    assert ContactEvent.objects.filter(contact=contact, kind="opted_in").exists()


def test_inbound_start_lifts_a_manual_opt_out(client, sender, contact):
    contact_opt_out(contact=contact, reason=Contact.OptOutReason.MANUAL)
    _send(client, "START")
    contact.refresh_from_db()
    assert contact.status == "active"


def test_inbound_ordinary_reply_keeps_manual_opt_out(client, sender, contact):
    contact_opt_out(contact=contact, reason=Contact.OptOutReason.MANUAL)
    _send(client, "Thanks!")
    contact.refresh_from_db()
    assert contact.opt_out_reason == "manual"


def test_inbound_help_replies_with_help_text(client, sender, contact, settings):
    settings.HERALD_HELP_REPLY = "Acme: call 555-0100 for help."
    response = _send(client, "help")
    assert b"<Message>Acme: call 555-0100 for help.</Message>" in response.content
    contact.refresh_from_db()
    assert contact.status == "active"


def test_inbound_links_reply_to_latest_sent_message(client, workspace, sender, contact):
    earlier = timezone.now() - timezone.timedelta(hours=2)
    MessageFactory(
        workspace=workspace, contact=contact, sent_at=earlier - timezone.timedelta(days=1)
    )
    latest = MessageFactory(workspace=workspace, contact=contact, sent_at=earlier)
    _send(client, "See you then")
    inbound = InboundMessage.objects.get()
    assert inbound.in_reply_to == latest
    assert inbound.contact == contact
    assert 7190 <= inbound.response_seconds <= 7300
    latest.refresh_from_db()
    assert latest.replied_at is not None


def test_inbound_replay_is_stored_once(client, sender, contact):
    _send(client, "STOP")
    response = _send(client, "STOP")
    assert response.status_code == 200
    assert InboundMessage.objects.count() == 1
    assert ContactEvent.objects.filter(contact=contact, kind="opted_out").count() == 1


def test_inbound_unknown_number_creates_contact(client, workspace, sender):
    _send(client, "Who is this?", from_="+14155550777")
    contact = Contact.objects.get(workspace=workspace, phone="+14155550777")
    assert ContactEvent.objects.filter(contact=contact, kind="created", detail="inbound").exists()
    assert InboundMessage.objects.get().contact == contact


def test_inbound_to_number_nobody_owns_creates_nothing(client, sender, caplog):
    response = _send(client, "STOP", to="+19995550000", from_="+14155550888")
    assert response.status_code == 200
    assert InboundMessage.objects.count() == 0
    assert not Contact.objects.filter(phone="+14155550888").exists()
    assert "no workspace owns" in caplog.text


def test_inbound_is_routed_to_the_workspace_owning_the_number(client, sender, other_workspace):
    SenderFactory(workspace=other_workspace, address="+14155558888")
    stranger = ContactFactory(workspace=other_workspace, phone="+14155550123")
    _send(client, "STOP", to="+14155558888")
    stranger.refresh_from_db()
    assert stranger.status == "opted_out"
    assert InboundMessage.objects.get().workspace == other_workspace


def test_inbound_forged_signature_is_403_and_creates_nothing(client, sender, contact):
    params = inbound_params("SM" + "2" * 32, body="STOP", from_=contact.phone, to=NUMBER)
    response = signed_post(client, URL, params, token="wrong")
    assert response.status_code == 403
    assert InboundMessage.objects.count() == 0


def test_inbound_missing_from_is_400(client, sender):
    response = signed_post(client, URL, {"MessageSid": "SM1", "To": NUMBER, "Body": "hi"})
    assert response.status_code == 400


def test_inbound_database_down_is_503(client, sender, monkeypatch):
    from django.db import OperationalError

    def broken(**kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr("messaging.webhooks.inbound_receive", broken)
    response = _send(client, "hello")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"


def test_inbound_huge_body_is_413(client, sender, contact):
    response = _send(client, "x" * 70_000)
    assert response.status_code == 413
    assert InboundMessage.objects.count() == 0


def test_inbound_reply_text_is_escaped_in_twiml(client, sender, contact, settings):
    settings.HERALD_HELP_REPLY = "Call <us> & co"
    response = _send(client, "HELP")
    assert b"<Message>Call &lt;us&gt; &amp; co</Message>" in response.content


class BrokenResponder:
    def reply(self, inbound):
        raise TimeoutError("the model did not answer")


def test_inbound_failing_responder_still_stores_reply(client, settings, sender, contact):
    settings.HERALD_RESPONDER = "tests.messaging.test_webhook_inbound.BrokenResponder"
    response = _send(client, "anything")
    assert response.status_code == 200
    assert InboundMessage.objects.get().body == "anything"
    assert not Message.objects.filter(status="queued").exists()
