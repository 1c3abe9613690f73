"""The frequency cap (H3): at most N campaign messages per contact per period, across
campaigns, checked at fan-out and again at send time; capped recipients are counted."""

import io
from csv import DictReader
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from campaigns import fanout, lifecycle
from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch
from campaigns.selectors import campaign_results, group_audience
from contacts.models import Contact
from messaging import sending
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group
from tests.messaging.test_outbox import scripted  # noqa: F401 (fixture)

S = Message.Status


def _cap(workspace, messages: int | None, hours: int = 24) -> None:
    workspace.frequency_cap, workspace.frequency_cap_hours = messages, hours
    workspace.save()


def _earlier(workspace, contact, *, hours_ago: float, campaign=None, status=S.SENT) -> Message:
    """A message the contact got before: of a campaign, or a reply (no campaign)."""
    return Message.objects.create(
        workspace=workspace,
        campaign=campaign,
        contact=contact,
        channel="sms",
        to_address=contact.phone,
        body="earlier",
        status=status,
        sent_at=timezone.now() - timedelta(hours=hours_ago),
    )


def _members(group) -> list[Contact]:
    return list(Contact.objects.filter(memberships__group=group).order_by("id"))


def test_fan_out_skips_contacts_at_the_cap_and_counts_them(workspace, scripted):  # noqa: F811
    _cap(workspace, 1, hours=24)
    group = make_group(workspace, 4)
    recent, old, replied, untouched = _members(group)
    before = make_campaign(workspace, group, name="Earlier")
    _earlier(workspace, recent, hours_ago=2, campaign=before)
    _earlier(workspace, old, hours_ago=30, campaign=before)
    _earlier(workspace, replied, hours_ago=1)  # an agent's or a person's reply: not counted
    _earlier(workspace, untouched, hours_ago=1, campaign=before, status=S.FAILED)
    campaign = make_campaign(workspace, group)

    assert group_audience(campaign=campaign)["capped"] == 1
    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)

    skipped = dict(
        Message.objects.filter(run__campaign=campaign, status=S.SKIPPED).values_list(
            "contact_id", "skip_reason"
        )
    )
    assert skipped == {recent.pk: "capped"}
    assert len(scripted.calls) == 3
    results = campaign_results(campaign=campaign)
    assert (results["skipped"], results["capped"], results["sent"]) == (1, 1, 3)


def test_no_cap_sends_to_everyone(workspace, scripted):  # noqa: F811
    group = make_group(workspace, 2)
    first, _ = _members(group)
    _earlier(workspace, first, hours_ago=1, campaign=make_campaign(workspace, group))
    campaign = campaign_launch(campaign=make_campaign(workspace, group, name="Again"))
    engine.tick(send_inline=True)
    assert campaign_results(campaign=campaign)["capped"] == 0 and len(scripted.calls) == 2


def test_queued_messages_of_another_campaign_count_at_fan_out(workspace, scripted):  # noqa: F811
    _cap(workspace, 1)
    group = make_group(workspace, 2)
    first = campaign_launch(campaign=make_campaign(workspace, group, name="First"))
    second = campaign_launch(campaign=make_campaign(workspace, group, name="Second"))
    engine.tick(send_inline=True)

    statuses = {
        name: sorted(Message.objects.filter(campaign=c).values_list("skip_reason", flat=True))
        for name, c in (("first", first), ("second", second))
    }
    # Whichever fanned out first reaches both contacts; the other is capped for both.
    assert sorted(statuses.values()) == [["", ""], ["capped", "capped"]]
    assert len(scripted.calls) == 2


def test_send_time_check_stops_the_messages_past_the_cap(workspace, scripted):  # noqa: F811
    """Both campaigns fanned out before the cap was set: the send lets one message per
    contact go, even within one batch, and skips the other as capped."""
    group = make_group(workspace, 3)
    one = campaign_launch(campaign=make_campaign(workspace, group, name="One"))
    two = campaign_launch(campaign=make_campaign(workspace, group, name="Two"))
    for run_id in lifecycle.runs_start_due():  # fan out, send nothing
        fanout.run_fan_out(run_id=run_id)
    assert Message.objects.filter(status=S.QUEUED).count() == 6
    _cap(workspace, 1)

    engine.tick(send_inline=True)

    assert len(scripted.calls) == 3
    for contact in _members(group):
        got = Message.objects.filter(contact=contact)
        assert sorted(got.values_list("status", flat=True)) == [S.SENT, S.SKIPPED]
        assert got.get(status=S.SKIPPED).skip_reason == "capped"
    capped = campaign_results(campaign=one)["capped"] + campaign_results(campaign=two)["capped"]
    assert capped == 3


def test_campaign_page_api_and_csv_show_the_capped_count(
    client_logged_in,
    api_client,
    workspace,
    scripted,  # noqa: F811
):
    _cap(workspace, 1)
    group = make_group(workspace, 1)
    (contact,) = _members(group)
    _earlier(workspace, contact, hours_ago=1, campaign=make_campaign(workspace, group, name="A"))
    campaign = make_campaign(workspace, group, name="B")
    review = client_logged_in.get(reverse("campaigns:campaign-build", args=[campaign.pk, "review"]))
    assert (
        "1 contact already has 1 campaign message in the last 24 hours" in review.content.decode()
    )
    campaign_launch(campaign=campaign)
    engine.tick(send_inline=True)
    page = client_logged_in.get(reverse("campaigns:campaign-detail", args=[campaign.pk]))
    assert 'title="Skipped: at the workspace\'s frequency cap">Capped' in page.content.decode()
    csv = client_logged_in.get(reverse("campaigns:campaign-csv", args=[campaign.pk]))
    rows = list(DictReader(io.StringIO(b"".join(csv.streaming_content).decode())))
    assert [(r["contact_id"], r["status"], r["skip_reason"]) for r in rows] == [
        (str(contact.pk), "skipped", "capped")
    ]
    results = api_client.get(f"/api/v1/campaigns/{campaign.pk}/results").json()
    assert (results["skipped"], results["capped"], results["sent"]) == (1, 1, 0)


def test_settings_form_saves_the_cap_and_refuses_zero(client_logged_in, workspace):
    url = reverse("accounts:workspace-settings")
    form = {
        "name": "Acme",
        "default_region": "US",
        "timezone": "America/New_York",
        "quiet_start_hour": 8,
        "quiet_end_hour": 21,
        "frequency_cap_hours": 48,
    }
    refused = client_logged_in.post(url, form | {"frequency_cap": 0})
    assert refused.status_code == 200 and "At least 1" in refused.content.decode()
    for hours in (0, 2161):
        refused = client_logged_in.post(
            url, form | {"frequency_cap": 2, "frequency_cap_hours": hours}
        )
        assert "Between 1 hour and 90 days" in refused.content.decode()
    workspace.refresh_from_db()
    assert workspace.frequency_cap is None
    saved = client_logged_in.post(url, form | {"frequency_cap": 2})
    assert saved.status_code == 302
    workspace.refresh_from_db()
    assert (workspace.frequency_cap, workspace.frequency_cap_hours) == (2, 48)


def _two_campaigns_queued(workspace, n: int) -> tuple[list[Contact], dict]:
    """Campaigns One and Two fanned out to the same n contacts before the cap (1 a day) was
    set: {(campaign name, contact id): message}."""
    group = make_group(workspace, n)
    campaigns = {
        name: campaign_launch(campaign=make_campaign(workspace, group, name=name))
        for name in ("One", "Two")
    }
    for run_id in lifecycle.runs_start_due():  # fan out, send nothing
        fanout.run_fan_out(run_id=run_id)
    _cap(workspace, 1)
    messages = {
        (name, m.contact_id): m
        for name, campaign in campaigns.items()
        for m in Message.objects.filter(campaign=campaign)
    }
    return _members(group), messages


def test_send_time_check_sees_what_another_worker_sent_during_the_batch(
    workspace,
    scripted,  # noqa: F811
    monkeypatch,
):
    """A batch reads its contacts' counts when it starts; another worker sending to one of
    them meanwhile is seen again right before that contact's message is fenced."""
    (first, second), messages = _two_campaigns_queued(workspace, 2)
    theirs = messages[("Two", second.pk)]
    ours = [messages[("One", first.pk)], messages[("One", second.pk)]]
    send = scripted.send

    def and_another_worker_sends(self, message):
        if message.id == ours[0].id:  # meanwhile, another worker's message to `second` goes
            Message.objects.filter(pk=theirs.pk).update(status=S.SENT, sent_at=timezone.now())
        return send(self, message)

    monkeypatch.setattr(scripted, "send", and_another_worker_sends)

    counts = sending.outbox_send(message_ids=[m.id for m in ours])

    assert counts == {S.SENT: 1, S.SKIPPED: 1}
    assert scripted.calls == [ours[0].id]
    ours[1].refresh_from_db()
    assert (ours[1].status, ours[1].skip_reason) == (S.SKIPPED, "capped")


def test_a_message_waits_while_another_workers_message_to_the_contact_is_in_flight(
    workspace,
    scripted,  # noqa: F811
):
    """Another worker's message to the contact is `sending` (its call in flight): ours goes
    back to the queue for a moment without using an attempt, then is capped if that one went
    out, or sent if it did not."""
    (contact,), messages = _two_campaigns_queued(workspace, 1)
    ours, theirs = messages[("One", contact.pk)], messages[("Two", contact.pk)]
    live = timezone.now() + timedelta(minutes=5)
    Message.objects.filter(pk=theirs.pk).update(status=S.SENDING, lease_expires_at=live)

    assert sending.outbox_send(message_ids=[ours.id]) == {}
    ours.refresh_from_db()
    assert (ours.status, ours.attempts, ours.lease_expires_at) == (S.QUEUED, 0, None)
    assert ours.send_after > timezone.now() and scripted.calls == []

    Message.objects.filter(pk=ours.pk).update(send_after=timezone.now())
    Message.objects.filter(pk=theirs.pk).update(status=S.FAILED, lease_expires_at=None)
    assert sending.outbox_send(message_ids=[ours.id]) == {S.SENT: 1}
    assert scripted.calls == [ours.id]

    # The other way round: theirs in flight, then sent; ours is capped.
    Message.objects.filter(pk=theirs.pk).update(status=S.QUEUED, send_after=timezone.now())
    Message.objects.filter(pk=ours.pk).update(status=S.SENDING, lease_expires_at=live)
    assert sending.outbox_send(message_ids=[theirs.id]) == {}
    Message.objects.filter(pk=ours.pk).update(status=S.SENT, lease_expires_at=None)
    Message.objects.filter(pk=theirs.pk).update(send_after=timezone.now())
    assert sending.outbox_send(message_ids=[theirs.id]) == {S.SKIPPED: 1}
    theirs.refresh_from_db()
    assert (theirs.status, theirs.skip_reason) == (S.SKIPPED, "capped")
