"""The hook registry through which messaging tells the apps above it about events."""

import logging

import pytest

from messaging import hooks
from messaging.backends import ReconcileResult
from messaging.models import InboundMessage, Message
from messaging.outbox import outbox_reconcile
from tests.factories import ContactFactory

from .factories import MessageFactory, SenderFactory
from .helpers import WsgiClient, inbound_params, signed_post, status_params
from .test_outbox import scripted  # noqa: F401 (a fixture)

HEARD: list[tuple[str, dict]] = []


def record_inbound(**kwargs):
    HEARD.append(("inbound", kwargs))


def record_status(**kwargs):
    HEARD.append(("status", kwargs))


def record_requeued(**kwargs):
    HEARD.append(("requeued", kwargs))


def broken(**kwargs):
    raise RuntimeError("a bug in an upper app")


HERE = "tests.messaging.test_hooks"


@pytest.fixture
def listening(settings):
    HEARD.clear()
    settings.HERALD_MESSAGING_HOOKS = {
        "inbound": [f"{HERE}.record_inbound"],
        "status": [f"{HERE}.record_status"],
        "requeued": [f"{HERE}.record_requeued"],
    }
    yield HEARD
    HEARD.clear()


def test_fire_calls_each_hook_in_order_with_keywords(settings):
    HEARD.clear()
    settings.HERALD_MESSAGING_HOOKS = {
        "requeued": [f"{HERE}.record_requeued", f"{HERE}.record_status"]
    }
    hooks.fire("requeued", message_ids=[1, 2])
    assert HEARD == [("requeued", {"message_ids": [1, 2]}), ("status", {"message_ids": [1, 2]})]


def test_a_failing_hook_is_logged_and_the_next_still_runs(settings, caplog):
    HEARD.clear()
    settings.HERALD_MESSAGING_HOOKS = {"inbound": [f"{HERE}.broken", f"{HERE}.record_inbound"]}
    with caplog.at_level(logging.ERROR, logger="herald.hooks"):
        hooks.fire("inbound", inbound=None)
    assert HEARD == [("inbound", {"inbound": None})]
    assert "failed on the inbound event" in caplog.text


def nothing(**kwargs):
    return None


def call_url(**kwargs):
    return {"url": "https://example.com/answer"}


def test_ask_takes_the_first_answer_skipping_none_and_failing_hooks(settings, caplog):
    settings.HERALD_MESSAGING_HOOKS = {
        "call": [f"{HERE}.nothing", f"{HERE}.broken", f"{HERE}.call_url", f"{HERE}.nothing"]
    }
    with caplog.at_level(logging.ERROR, logger="herald.hooks"):
        assert hooks.ask("call", message=None) == {"url": "https://example.com/answer"}
    assert "failed on the call event" in caplog.text
    settings.HERALD_MESSAGING_HOOKS = {"call": [f"{HERE}.nothing"]}
    assert hooks.ask("call", message=None) is None


def test_an_unknown_event_is_refused():
    with pytest.raises(ValueError, match="Unknown messaging event"):
        hooks.fire("delivered", message_ids=[])


def test_no_hook_registered_is_no_call(settings):
    HEARD.clear()
    settings.HERALD_MESSAGING_HOOKS = {}
    hooks.fire("inbound", inbound=None)
    hooks.statuses_changed([(1, "delivered")])
    assert HEARD == []


def test_status_hook_hears_only_reported_statuses(listening):
    hooks.statuses_changed([(1, "queued"), (2, "delivered"), (3, "skipped"), (4, "failed")])
    assert listening == [("status", {"changes": [(2, "delivered"), (4, "failed")]})]


@pytest.mark.django_db
def test_inbound_hook_hears_each_stored_message_once(client, workspace, twilio_settings, listening):
    sender = SenderFactory(workspace=workspace, address="+14155559999")
    ContactFactory(workspace=workspace, phone="+14155550123")
    params = inbound_params("SM" + "7" * 32, body="STOP", from_="+14155550123", to=sender.address)
    signed_post(client, "/webhooks/twilio/inbound", params)
    signed_post(client, "/webhooks/twilio/inbound", params)  # Twilio's retry: no second event
    assert [event for event, _ in listening] == ["inbound"]
    heard = listening[0][1]["inbound"]
    assert heard.pk == InboundMessage.objects.get().pk
    assert heard.action == InboundMessage.Action.OPT_OUT  # the keyword is applied before


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["view", "wsgi"])
def test_status_hook_hears_a_callback_once(client, workspace, twilio_settings, listening, path):
    message = MessageFactory(workspace=workspace)
    client = client if path == "view" else WsgiClient()
    params = status_params(message.provider_message_id, "delivered")
    assert signed_post(client, "/webhooks/twilio/status", params).status_code == 200
    signed_post(client, "/webhooks/twilio/status", params)  # a replay changes nothing
    assert listening == [("status", {"changes": [(message.pk, "delivered")]})]


@pytest.mark.django_db
def test_reconciliation_reports_requeued_and_settled_messages(
    workspace,
    scripted,  # noqa: F811
    listening,
    monkeypatch,
):
    lost, found = MessageFactory.create_batch(2, workspace=workspace, status="unknown")
    answers = {lost.pk: ReconcileResult("not_found"), found.pk: ReconcileResult("delivered")}
    monkeypatch.setattr(scripted, "reconcile", lambda self, message: answers[message.pk])
    assert outbox_reconcile() == 2
    assert ("requeued", {"message_ids": [lost.pk]}) in listening
    assert ("status", {"changes": [(found.pk, "delivered")]}) in listening
    assert Message.objects.get(pk=lost.pk).status == "queued"
