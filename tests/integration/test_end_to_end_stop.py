"""Import → campaign → send through the fake Twilio → signed callbacks → STOP → next run skips.

Every piece is the real one: the import command, the campaign services, the outbox engine,
the `twilio` client over HTTP to a local server playing Twilio, and the webhooks reached
through Django's test client with requests signed like Twilio signs them.
"""

from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch
from campaigns.selectors import campaign_results
from campaigns.services import campaign_create
from contacts.models import Contact, ContactGroup
from messaging.models import Message
from tests.campaigns.helpers import make_sender
from tests.fakes.fixtures import *  # noqa: F403 (fake Twilio fixtures)
from tests.messaging.helpers import inbound_params, signed_post, status_params

pytestmark = pytest.mark.django_db

CSV = """First Name,Last Name,Mobile,Appointment Date
Ann,Lee,(415) 555-0101,March 15
Bob,Ray,415-555-0102,March 16
Cy,Moe,+1 415 555 0103,March 17
"""
NUMBER = "+14155559999"


def _launch(workspace, group, sender, name):
    campaign = campaign_create(
        workspace=workspace,
        data={
            "name": name,
            "channel": "sms",
            "group": group.pk,
            "sender": sender.pk,
            "message_template": (
                "Hi {{first_name}}, see you on {{appointment_date}}. STOP to opt out"
            ),
            "timezone": "UTC",
            "window_start_hour": 0,
            "window_end_hour": 24,
        },
    )
    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)
    return campaign


def test_end_to_end_stop_reply_skips_contact_in_next_run(client, workspace, fake_twilio, tmp_path):
    path = tmp_path / "patients.csv"
    path.write_text(CSV)
    out = StringIO()
    call_command(
        "import_contacts", str(path), workspace=workspace.slug, group="Patients", stdout=out
    )
    assert '"created": 3' in out.getvalue()
    group = ContactGroup.objects.get(workspace=workspace, name="Patients")
    sender = make_sender(workspace, address=NUMBER)

    first = _launch(workspace, group, sender, "Reminders")
    creates = fake_twilio.creates("Messages")
    assert sorted(r.param("To") for r in creates) == [
        "+14155550101",
        "+14155550102",
        "+14155550103",
    ]
    assert "Hi Ann, see you on March 15." in {r.param("Body").split(" STOP")[0] for r in creates}

    for sid, resource in fake_twilio.messages.items():
        callback = urlsplit(resource["_status_callback"])
        path_and_query = f"{callback.path}?{callback.query}"
        for status in ("sent", "delivered", "sent"):  # the late "sent" must not win
            response = signed_post(client, path_and_query, status_params(sid, status))
            assert response.status_code == 200
    assert set(Message.objects.filter(campaign=first).values_list("status", flat=True)) == {
        "delivered"
    }

    reply = signed_post(
        client,
        "/webhooks/twilio/inbound",
        inbound_params("SM" + "9" * 32, body=" Stop. ", from_="+14155550101", to=NUMBER),
    )
    assert b"unsubscribed" in reply.content
    ann = Contact.objects.get(workspace=workspace, phone="+14155550101")
    assert (ann.status, ann.opt_out_reason) == ("opted_out", "message")
    results = campaign_results(campaign=first)
    assert (results["delivered"], results["replied"], results["failed"]) == (3, 1, 0)

    second = _launch(workspace, group, sender, "Follow-up")
    recipients = [r.param("To") for r in fake_twilio.creates("Messages")[3:]]
    assert sorted(recipients) == ["+14155550102", "+14155550103"]
    skipped = Message.objects.get(campaign=second, contact=ann)
    assert (skipped.status, skipped.skip_reason) == ("skipped", "opted_out")
