"""The outbox engine on the real database: fan-out, claim, send, retries, sweeper, pause."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from campaigns import fanout, lifecycle
from campaigns import tick as engine
from campaigns.lifecycle import campaign_launch, campaign_pause, campaign_resume
from campaigns.models import Campaign, CampaignRun
from contacts.models import Contact
from messaging import outbox, sending
from messaging.backends import (
    Backend,
    PermanentError,
    ReconcileResult,
    RetryableError,
    SendResult,
    UnknownOutcome,
    reset_backends,
)
from messaging.models import Message
from tests.campaigns.helpers import make_campaign, make_group, make_sender

S = Message.Status


class ScriptedBackend(Backend):
    """Records every provider call; raises what the test queued for given addresses."""

    calls: list[int] = []
    errors: dict[str, Exception] = {}
    reconcile_answer = ReconcileResult(status="not_found")

    def send(self, message):
        error = self.errors.get(message.to_address)
        if error is not None:
            raise error
        ScriptedBackend.calls.append(message.id)
        return SendResult(provider_message_id=f"p-{message.id}", status="sent")

    def reconcile(self, message):
        return self.reconcile_answer


@pytest.fixture
def scripted(settings):
    settings.HERALD_SMS_BACKEND = "tests.messaging.test_outbox.ScriptedBackend"
    settings.HERALD_EMAIL_BACKEND = "tests.messaging.test_outbox.ScriptedBackend"
    reset_backends()
    ScriptedBackend.calls = []
    ScriptedBackend.errors = {}
    ScriptedBackend.reconcile_answer = ReconcileResult(status="not_found")
    yield ScriptedBackend
    reset_backends()


def launch(campaign):
    return campaign_launch(campaign=campaign)


def test_tick_sends_each_message_once_and_completes(workspace, scripted):
    group = make_group(workspace, 5)
    campaign = launch(make_campaign(workspace, group))
    report = engine.tick(send_inline=True)
    assert report["sent"] == {"sent": 5}
    assert sorted(scripted.calls) == sorted(Message.objects.values_list("id", flat=True))
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED
    run = campaign.runs.get()
    assert run.state == CampaignRun.State.COMPLETED and run.total == 5
    assert set(Message.objects.values_list("body", flat=True)) == {
        f"Hi Ann{i}, 20% off today." for i in range(5)
    }
    engine.tick(send_inline=True)
    assert len(scripted.calls) == 5  # nothing is sent again


def test_fan_out_skips_opted_out_and_missing_address_and_counts_them(workspace, scripted):
    group = make_group(workspace, 4)
    contacts = list(Contact.objects.filter(memberships__group=group).order_by("id"))
    Contact.objects.filter(pk=contacts[0].pk).update(status="opted_out", opt_out_reason="manual")
    Contact.objects.filter(pk=contacts[1].pk).update(email="")
    campaign = launch(make_campaign(workspace, group, channel="email", subject="Hello"))
    engine.tick(send_inline=True)
    run = campaign.runs.get()
    assert (run.total, run.skipped) == (4, 2)
    skipped = dict(
        Message.objects.filter(status=S.SKIPPED).values_list("contact_id", "skip_reason")
    )
    assert skipped == {contacts[0].pk: "opted_out", contacts[1].pk: "no_address"}
    assert len(scripted.calls) == 2


def test_fan_out_resumes_from_cursor_without_duplicates(workspace, scripted):
    group = make_group(workspace, 7)
    campaign = launch(make_campaign(workspace, group))
    run_id = lifecycle.runs_start_due()[0]
    plan_done = fanout.run_fan_out(run_id=run_id, batch=3, time_budget=0)
    assert plan_done is False
    assert Message.objects.count() == 3
    assert fanout.run_fan_out(run_id=run_id, batch=3) is True
    assert Message.objects.count() == 7
    assert CampaignRun.objects.get(pk=run_id).total == 7
    assert campaign.runs.count() == 1


def test_claim_leases_rows_and_a_second_claim_gets_others(workspace, scripted):
    group = make_group(workspace, 6)
    launch(make_campaign(workspace, group))
    run_id = lifecycle.runs_start_due()[0]
    fanout.run_fan_out(run_id=run_id)
    first = outbox.outbox_claim(limit=4)
    second = outbox.outbox_claim(limit=4)
    assert len(first) == 4 and len(second) == 2 and not set(first) & set(second)
    assert outbox.outbox_claim(limit=4) == []


def test_send_twice_with_same_ids_sends_once(workspace, scripted):
    group = make_group(workspace, 3)
    launch(make_campaign(workspace, group))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    ids = outbox.outbox_claim(limit=10)
    sending.outbox_send(message_ids=ids)
    sending.outbox_send(message_ids=ids)  # a redelivered Celery task
    assert len(scripted.calls) == 3


def test_expired_claim_returns_to_queue_and_expired_send_becomes_unknown(workspace, scripted):
    group = make_group(workspace, 2)
    launch(make_campaign(workspace, group))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    ids = outbox.outbox_claim(limit=10)
    past = timezone.now() - timedelta(seconds=1)
    Message.objects.filter(id=ids[0]).update(lease_expires_at=past)
    Message.objects.filter(id=ids[1]).update(status=S.SENDING, lease_expires_at=past)
    assert outbox.outbox_sweep() == (1, 1)
    assert Message.objects.get(id=ids[0]).lease_expires_at is None
    assert Message.objects.get(id=ids[1]).status == S.UNKNOWN
    assert outbox.outbox_claim(limit=10) == [ids[0]]


def test_unknown_is_reconciled_not_resent(workspace, scripted):
    group = make_group(workspace, 2)
    launch(make_campaign(workspace, group))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    a, b = Message.objects.order_by("id").values_list("id", flat=True)
    Message.objects.filter(id__in=[a, b]).update(status=S.UNKNOWN)
    scripted.reconcile_answer = ReconcileResult(status="sent", provider_message_id="p-x")
    outbox.outbox_reconcile()
    assert set(Message.objects.values_list("status", flat=True)) == {S.SENT}
    assert scripted.calls == []


def test_unknown_that_provider_never_got_is_sent_again(workspace, scripted):
    group = make_group(workspace, 1)
    launch(make_campaign(workspace, group))
    engine.tick(send_inline=True)
    Message.objects.update(status=S.UNKNOWN)
    scripted.calls.clear()
    engine.tick(send_inline=True)  # reconcile says not_found → queued → sent
    assert len(scripted.calls) == 1
    assert Message.objects.get().status == S.SENT


def test_retryable_error_retries_after_interval_then_fails(workspace, scripted):
    group = make_group(workspace, 1)
    campaign = launch(make_campaign(workspace, group, max_retries=1, retry_interval=60))
    phone = Contact.objects.get().phone
    scripted.errors[phone] = RetryableError("429 Too Many Requests", code="20429")
    engine.tick(send_inline=True)
    message = Message.objects.get()
    assert message.status == S.QUEUED and message.attempts == 1
    assert message.send_after > timezone.now() + timedelta(seconds=50)
    Message.objects.update(send_after=timezone.now())
    engine.tick(send_inline=True)
    message.refresh_from_db()
    assert message.status == S.FAILED and message.attempts == 2
    assert message.error_code == "20429"
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED


def test_permanent_error_fails_at_once_and_can_opt_out(workspace, scripted):
    group = make_group(workspace, 1)
    launch(make_campaign(workspace, group, max_retries=3))
    contact = Contact.objects.get()
    scripted.errors[contact.phone] = PermanentError("unsubscribed", code="21610", opt_out=True)
    engine.tick(send_inline=True)
    message = Message.objects.get()
    assert (message.status, message.attempts) == (S.FAILED, 1)
    contact.refresh_from_db()
    assert contact.status == "opted_out" and contact.opt_out_reason == "bad_response"


def test_unknown_outcome_from_backend_is_not_retried(workspace, scripted):
    group = make_group(workspace, 1)
    launch(make_campaign(workspace, group))
    scripted.errors[Contact.objects.get().phone] = UnknownOutcome("connection reset")
    scripted.reconcile_answer = ReconcileResult(status="unknown")
    engine.tick(send_inline=True)
    engine.tick(send_inline=True)
    message = Message.objects.get()
    assert (message.status, message.attempts) == (S.UNKNOWN, 1)


def test_contact_opted_out_after_fan_out_is_skipped_at_send(workspace, scripted):
    group = make_group(workspace, 2)
    launch(make_campaign(workspace, group))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    first = Contact.objects.order_by("id").first()
    Contact.objects.filter(pk=first.pk).update(status="opted_out", opt_out_reason="message")
    engine.tick(send_inline=True)
    assert Message.objects.get(contact=first).status == S.SKIPPED
    assert len(scripted.calls) == 1


def test_deleted_contact_after_fan_out_is_skipped(workspace, scripted):
    group = make_group(workspace, 2)
    launch(make_campaign(workspace, group))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    Contact.objects.order_by("id").first().delete()
    engine.tick(send_inline=True)
    assert Message.objects.filter(status=S.SKIPPED, skip_reason="deleted").count() == 1
    assert len(scripted.calls) == 1


def test_pause_stops_claimed_batch_and_resume_finishes(workspace, scripted):
    group = make_group(workspace, 4)
    campaign = launch(make_campaign(workspace, group))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    ids = outbox.outbox_claim(limit=2)
    campaign_pause(campaign=campaign)
    sending.outbox_send(message_ids=ids)  # the task arrives after the pause
    engine.tick(send_inline=True)
    assert scripted.calls == []
    assert Message.objects.filter(status=S.QUEUED, lease_expires_at__isnull=True).count() == 4
    campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk))
    engine.tick(send_inline=True)
    assert len(scripted.calls) == 4
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED


def test_message_outside_window_waits_for_next_opening(workspace, scripted):
    group = make_group(workspace, 1)
    now = timezone.localtime(timezone.now(), timezone=__import__("zoneinfo").ZoneInfo("UTC"))
    closed_start = (now.hour + 2) % 24
    closed_end = closed_start + 1
    launch(
        make_campaign(
            workspace,
            group,
            timezone="UTC",
            window_start_hour=closed_start,
            window_end_hour=closed_end,
        )
    )
    engine.tick(send_inline=True)
    message = Message.objects.get()
    assert message.status == S.QUEUED and scripted.calls == []
    assert message.send_after > timezone.now()
    assert (
        message.send_after.astimezone(__import__("zoneinfo").ZoneInfo("UTC")).hour == closed_start
    )


def test_rate_limited_sender_claims_within_budget(workspace, scripted, settings):
    settings.HERALD_TICK_SECONDS = 2
    group = make_group(workspace, 10)
    sender = make_sender(workspace, rate=1.0)
    launch(make_campaign(workspace, group, sender=sender))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    assert len(outbox.outbox_claim(limit=100)) == 2
    assert outbox.outbox_claim(limit=100) == []  # two in flight use the budget


@override_settings(HERALD_SEND_TASKS=2, HERALD_SEND_BATCH=3)
def test_tick_dispatches_batches_with_back_pressure(workspace, scripted):
    group = make_group(workspace, 10)
    launch(make_campaign(workspace, group))
    batches = []
    engine.tick(dispatch=batches.append)
    assert [len(b) for b in batches] == [3, 3]
    engine.tick(dispatch=batches.append)
    assert len(batches) == 2  # both slots are still in flight


def test_manage_py_tick_runs_everything(workspace, scripted, capsys):
    group = make_group(workspace, 2)
    launch(make_campaign(workspace, group))
    call_command("tick")
    assert "sent: 2 sent" in capsys.readouterr().out


def test_pause_during_a_batch_releases_the_unsent_rest(workspace, scripted, monkeypatch):
    group = make_group(workspace, 5)
    campaign = launch(make_campaign(workspace, group))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    monkeypatch.setattr(sending, "PAUSE_CHECK_SECONDS", -1)  # check before every message

    def send_then_pause(self, message):
        if not ScriptedBackend.calls:
            campaign_pause(campaign=Campaign.objects.get(pk=campaign.pk))
        ScriptedBackend.calls.append(message.id)
        return SendResult(provider_message_id=f"p-{message.id}", status="sent")

    monkeypatch.setattr(ScriptedBackend, "send", send_then_pause)
    sending.outbox_send(message_ids=outbox.outbox_claim(limit=10))
    assert len(scripted.calls) == 1
    queued = Message.objects.filter(status=S.QUEUED)
    assert queued.count() == 4 and set(queued.values_list("attempts", flat=True)) == {0}


def test_fan_out_error_fails_the_run_and_campaign_with_the_reason(workspace, scripted, monkeypatch):
    group = make_group(workspace, 2)
    campaign = launch(make_campaign(workspace, group))

    def broken(*args, **kwargs):
        raise ValueError("template exploded")

    monkeypatch.setattr(fanout, "_message_row", broken)
    engine.tick(send_inline=True)
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.FAILED
    assert "template exploded" in campaign.failure_reason
    assert campaign.runs.get().state == CampaignRun.State.FAILED
    assert scripted.calls == []


def test_a_slow_batch_keeps_its_lease_alive(workspace, scripted, monkeypatch, settings):
    settings.HERALD_LEASE_SECONDS = 1
    group = make_group(workspace, 3)
    launch(make_campaign(workspace, group))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    clock = {"t": 0.0}
    monkeypatch.setattr(sending.time_module, "monotonic", lambda: clock["t"])

    def slow_send(self, message):
        clock["t"] += 2.0  # each send takes longer than the flush interval
        lease = Message.objects.get(id=message.id).lease_expires_at
        assert lease > sending._now()  # the sweeper would not take it for crashed
        ScriptedBackend.calls.append(message.id)
        return SendResult(provider_message_id=f"p-{message.id}", status="sent")

    monkeypatch.setattr(ScriptedBackend, "send", slow_send)
    real_now = timezone.now
    monkeypatch.setattr(sending, "_now", lambda: real_now() + timedelta(seconds=clock["t"] / 4))
    sending.outbox_send(message_ids=outbox.outbox_claim(limit=10))
    assert len(scripted.calls) == 3


def test_fan_out_copies_awkward_text_exactly(workspace, scripted):
    group = make_group(workspace, 1)
    Contact.objects.update(first_name="Zoë\t\\N", last_name="O'Brien\r\n<b>")
    template = "Hi {{first_name}} {{last_name}}\\n\tend \\ ünïcode 😀"
    campaign = launch(make_campaign(workspace, group, message_template=template))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    message = Message.objects.get(campaign=campaign)
    assert message.body == "Hi Zoë\t\\N O'Brien\r\n<b>\\n\tend \\ ünïcode 😀"
    assert message.send_after is not None and message.status == S.QUEUED


def test_fan_out_renders_subject_html_and_custom_fields(workspace, scripted):
    group = make_group(workspace, 1)
    long = "x" * 300
    Contact.objects.update(
        last_name="<Lee>", metadata={"plan": "gold", "first_name": "X", "long": long}
    )
    campaign = make_campaign(
        workspace,
        group,
        channel="email",
        subject="{{first_name}}, your {{plan}} plan {{long}}",
        message_template="{{plan}} for {{first_name}} {{last_name}}",
        html_template="<p>{{last_name}}: {{missing|none}}</p>",
    )
    launch(campaign)
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    message = Message.objects.get(campaign=campaign)
    assert message.subject == f"Ann0, your gold plan {long}"[:255]
    assert message.body == "gold for Ann0 <Lee>"
    assert message.html_body == "<p>&lt;Lee&gt;: none</p>"
    assert (message.to_address, message.channel) == (Contact.objects.get().email, "email")


def test_message_whose_contact_is_gone_is_skipped_not_sent(workspace, scripted):
    # A contact deleted while its batch was being written leaves an id that points nowhere
    # (the key has no database constraint): the send must treat it as deleted.
    group = make_group(workspace, 2)
    launch(make_campaign(workspace, group))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    gone = Message.objects.order_by("id").first()
    Message.objects.filter(pk=gone.pk).update(
        contact_id=Contact.objects.order_by("id").last().pk + 1
    )
    engine.tick(send_inline=True)
    gone.refresh_from_db()
    assert (gone.status, gone.skip_reason) == (S.SKIPPED, "deleted")
    assert len(scripted.calls) == 1


def _claimed_batch(workspace, n: int) -> list[int]:
    launch(make_campaign(workspace, make_group(workspace, n)))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    return outbox.outbox_claim(limit=100)


def test_a_batch_stalled_past_its_lease_sends_nothing_the_sweeper_took(
    workspace, scripted, monkeypatch, settings
):
    ids = _claimed_batch(workspace, 3)

    def send_then_stall(self, message):
        ScriptedBackend.calls.append(message.id)
        # The worker freezes past its lease: the sweeper takes what is still `sending`.
        later = timezone.now() + timedelta(seconds=settings.HERALD_LEASE_SECONDS + 1)
        outbox.outbox_sweep(now=later)
        return SendResult(provider_message_id=f"p-{message.id}", status="sent")

    monkeypatch.setattr(ScriptedBackend, "send", send_then_stall)
    sending.outbox_send(message_ids=ids)
    assert len(scripted.calls) == 1  # the rest is left to reconciliation
    assert Message.objects.filter(status=S.UNKNOWN).count() == 3


def test_a_batch_whose_rows_another_worker_holds_does_not_send_them(
    workspace, scripted, monkeypatch
):
    ids = _claimed_batch(workspace, 3)
    clock = {"t": 0.0}
    monkeypatch.setattr(sending.time_module, "monotonic", lambda: clock["t"])

    def send_then_lose(self, message):
        ScriptedBackend.calls.append(message.id)
        clock["t"] += 2.0  # past the flush interval: the lease is extended after this send
        # Swept, reconciled and claimed again by another worker: `sending` under its lease.
        other = Message.objects.exclude(id__in=ScriptedBackend.calls)
        other.update(lease_expires_at=timezone.now() + timedelta(minutes=5))
        return SendResult(provider_message_id=f"p-{message.id}", status="sent")

    monkeypatch.setattr(ScriptedBackend, "send", send_then_lose)
    sending.outbox_send(message_ids=ids)
    assert len(scripted.calls) == 1
    # Extending another worker's rows with this batch's (stale) token matches none of them.
    _, kept = sending._extend_lease(ids[1:], timezone.now())
    assert kept == set()
    assert Message.objects.filter(status=S.SENDING).count() == 2  # still the other's


def test_a_reconcile_that_raises_stops_neither_the_others_nor_the_tick(
    workspace, scripted, monkeypatch
):
    group = make_group(workspace, 3)
    launch(make_campaign(workspace, group))
    fanout.run_fan_out(run_id=lifecycle.runs_start_due()[0])
    first, second, third = Message.objects.order_by("id")
    Message.objects.filter(id__in=[first.id, second.id]).update(status=S.UNKNOWN)

    def reconcile(self, message):
        if message.id == first.id:
            raise RuntimeError("provider list exploded")
        return ReconcileResult(status="delivered", provider_message_id="p-2")

    monkeypatch.setattr(ScriptedBackend, "reconcile", reconcile)
    report = engine.tick(send_inline=True)
    assert report["reconciled"] == 1
    assert report["sent"] == {"sent": 1}
    assert scripted.calls == [third.id]
    assert Message.objects.get(id=first.id).status == S.UNKNOWN
    assert Message.objects.get(id=second.id).status == S.DELIVERED


def test_a_run_with_unknown_messages_is_not_completed_until_they_are_settled(workspace, scripted):
    campaign = launch(make_campaign(workspace, make_group(workspace, 2)))
    engine.tick(send_inline=True)
    first = Message.objects.order_by("id").first()
    Message.objects.filter(id=first.id).update(status=S.UNKNOWN)
    CampaignRun.objects.update(state=CampaignRun.State.RUNNING, completed_at=None)
    Campaign.objects.filter(pk=campaign.pk).update(state=Campaign.State.RUNNING)
    scripted.reconcile_answer = ReconcileResult(status="unknown")  # the provider cannot say yet
    engine.tick(send_inline=True)
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING
    assert campaign.runs.get().state == CampaignRun.State.RUNNING
    scripted.reconcile_answer = ReconcileResult(status="sent", provider_message_id="p-1")
    engine.tick(send_inline=True)
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED
