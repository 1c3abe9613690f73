"""The outbox with real Celery workers on Redis and PostgreSQL (M2, M3 reliability).

The provider is RecordingBackend: it appends "<message id> <pid>" to a file (one O_APPEND write,
so lines never interleave) before it answers, and reconciles an `unknown` message by looking
for its id in that file, the way a real backend asks the provider. Every test counts the file:
each message must appear exactly once.

The test process plays celery beat: it enqueues the `tick` task every TICK seconds.
"""

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from celery.signals import task_postrun

from campaigns.lifecycle import campaign_launch, campaign_pause, campaign_resume
from campaigns.models import Campaign
from contacts.models import Contact, ContactGroup, GroupMembership
from messaging.backends import Backend, ReconcileResult, SendResult
from messaging.models import Message

pytestmark = [pytest.mark.integration]

TICK = 0.4
# How long a test waits for the campaign to finish before failing: the waits poll, so this
# only bounds a broken run, and a loaded CI machine must never reach it.
TIMEOUT = 180


class RecordingBackend(Backend):
    name = "recording"

    def send(self, message):
        delay = float(os.environ.get("HERALD_TEST_SEND_DELAY", "0"))
        if delay:
            time.sleep(delay)
        log = os.environ["HERALD_TEST_SEND_LOG"]
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{message.id} {os.getpid()}\n".encode())
        finally:
            os.close(fd)
        stall_after = int(os.environ.get("HERALD_TEST_STALL_AFTER", "0"))
        if stall_after and len(Path(log).read_text().splitlines()) >= stall_after:
            time.sleep(600)  # stuck mid-batch, whatever the machine's speed, until killed
        freeze_after = int(os.environ.get("HERALD_TEST_FREEZE_AFTER", "0"))
        if freeze_after and len(Path(log).read_text().splitlines()) >= freeze_after:
            _freeze_once()
        return SendResult(provider_message_id=f"rec-{message.id}", status="delivered")

    def reconcile(self, message):
        path = Path(os.environ["HERALD_TEST_SEND_LOG"])
        sent = path.exists() and f"\n{message.id} " in "\n" + path.read_text()
        if sent:
            return ReconcileResult(status="delivered", provider_message_id=f"rec-{message.id}")
        return ReconcileResult(status="not_found")


def _freeze_once() -> None:
    """The first process here stops itself (SIGSTOP) mid-batch, as a VM pause or a swap storm
    would stop it, after writing its pid to HERALD_TEST_FROZEN; the test resumes it (SIGCONT)."""
    try:
        fd = os.open(os.environ["HERALD_TEST_FROZEN"], os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os.kill(os.getpid(), signal.SIGSTOP)


@task_postrun.connect
def _task_done(sender=None, **kwargs):
    """Pool children say which tasks they finished (the backend module is loaded in them)."""
    if log := os.environ.get("HERALD_TEST_TASKS_DONE"):
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {sender.name}\n")


def _campaign(workspace, n: int) -> Campaign:
    group = ContactGroup.objects.create(workspace=workspace, name=f"Big {n}")
    contacts = Contact.objects.bulk_create(
        Contact(workspace=workspace, first_name=f"C{i}", phone=f"+1415555{i:04d}") for i in range(n)
    )
    GroupMembership.objects.bulk_create(GroupMembership(group=group, contact=c) for c in contacts)
    return Campaign.objects.create(
        workspace=workspace,
        group=group,
        name="Load",
        channel="sms",
        message_template="Hi {{first_name}}",
        timezone="UTC",
        window_start_hour=0,
        window_end_hour=24,
    )


def _env(tmp_path, **extra) -> dict:
    env = {
        "HERALD_SMS_BACKEND": f"{__name__}.RecordingBackend",
        "HERALD_TEST_SEND_LOG": str(tmp_path / "sends.log"),
        "HERALD_LEASE_SECONDS": "3",
        "HERALD_SEND_LOOP_SECONDS": "5",
        "HERALD_SEND_BATCH": "100",
        "HERALD_SEND_TASKS": "4",
        "HERALD_TICK_SECONDS": str(TICK),
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _sends(tmp_path) -> list[tuple[int, int]]:
    path = tmp_path / "sends.log"
    if not path.exists():
        return []
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines()]


def _drive(until, *, timeout: float, broker_url: str | None = None) -> None:
    """Enqueue a tick every TICK seconds, checking until() often; fail after timeout."""
    from campaigns.tasks import tick
    from config.celery import app

    deadline = time.monotonic() + timeout
    next_tick = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_tick:
            next_tick = time.monotonic() + TICK
            try:
                if broker_url:
                    with app.connection_for_write(broker_url) as conn:
                        tick.apply_async(connection=conn, retry=False)
                else:
                    tick.apply_async(retry=False)
            except Exception:  # the broker is down (the Redis restart test): keep trying
                pass
        if until():
            return
        time.sleep(0.02)
    pytest.fail("timed out")


def _in_sending(campaign) -> int:
    return Message.objects.filter(campaign=campaign, status="sending").count()


def _completed(campaign):
    return lambda: Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED


def _assert_exactly_once(tmp_path, campaign, n):
    sends = _sends(tmp_path)
    counts = Counter(message_id for message_id, _ in sends)
    ids = set(Message.objects.filter(campaign=campaign).values_list("id", flat=True))
    assert len(ids) == n
    assert set(counts) == ids, f"{len(ids - set(counts))} never sent"
    assert max(counts.values()) == 1, f"sent twice: {[m for m, c in counts.items() if c > 1][:5]}"
    statuses = Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == {"delivered": n}
    return sends


def test_two_workers_send_5000_messages_exactly_once(celery_worker, workspace, tmp_path):
    campaign = _campaign(workspace, 5000)
    env = _env(tmp_path)
    celery_worker(env=env)
    celery_worker(env=env)
    campaign_launch(campaign=campaign)
    _drive(_completed(campaign), timeout=TIMEOUT)
    sends = _assert_exactly_once(tmp_path, campaign, 5000)
    assert len({pid for _, pid in sends}) == 2  # both workers shared the work


def test_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    celery_worker, workspace, tmp_path
):
    campaign = _campaign(workspace, 600)
    env = _env(tmp_path)
    first = celery_worker(env={**env, "HERALD_TEST_STALL_AFTER": "150"})
    campaign_launch(campaign=campaign)
    # The worker is stuck in its batch (its solo pool runs no tick meanwhile, so no sweep).
    _drive(lambda: len(_sends(tmp_path)) >= 150 and _in_sending(campaign) >= 1, timeout=60)
    first.kill()
    assert _in_sending(campaign) > 0  # the kill landed mid-batch
    second = celery_worker(env=env)
    _drive(_completed(campaign), timeout=TIMEOUT)
    _assert_exactly_once(tmp_path, campaign, 600)
    assert "sends unknown" in second.log.read_text()  # caught rows went through `unknown`


def test_a_stalled_pool_child_sends_nothing_the_sweeper_handed_to_another(
    celery_worker, workspace, tmp_path
):
    """Defect 1 of #12: a pool child frozen past its lease + reconciliation wakes up after
    the campaign completed; it must not send the rest of its batch again."""
    campaign = _campaign(workspace, 300)
    frozen, done = tmp_path / "frozen.pid", tmp_path / "tasks.done"
    env = _env(
        tmp_path,
        HERALD_SEND_BATCH=50,
        HERALD_TEST_FREEZE_AFTER=20,
        HERALD_TEST_FROZEN=frozen,
        HERALD_TEST_TASKS_DONE=done,
    )
    celery_worker(env=env, concurrency=2)
    campaign_launch(campaign=campaign)
    _drive(lambda: frozen.exists() and frozen.read_text(), timeout=60)
    pid = int(frozen.read_text())
    # The other child sweeps the frozen batch (lease 3 s), reconciles it and sends the rest.
    _drive(_completed(campaign), timeout=TIMEOUT)
    _assert_exactly_once(tmp_path, campaign, 300)
    os.kill(pid, signal.SIGCONT)

    def frozen_batch_done():
        lines = done.read_text().splitlines() if done.exists() else []
        return f"{pid} messaging.tasks.send_batch" in lines

    _drive(frozen_batch_done, timeout=60)
    _assert_exactly_once(tmp_path, campaign, 300)


def test_redis_restart_without_persistence_mid_run_completes(celery_worker, workspace, tmp_path):
    port = 6390
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "yes", "--dir", str(tmp_path)]  # fmt: skip
    subprocess.run(args, check=True)
    broker = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_redis(port)
        campaign = _campaign(workspace, 1200)
        celery_worker(env=_env(tmp_path, CELERY_BROKER_URL=broker, HERALD_TEST_SEND_DELAY="0.002"))
        campaign_launch(campaign=campaign)
        _drive(lambda: len(_sends(tmp_path)) >= 300, timeout=60, broker_url=broker)
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False)
        _wait_redis(port, up=False)
        subprocess.run(args, check=True)
        _wait_redis(port)
        _drive(_completed(campaign), timeout=TIMEOUT, broker_url=broker)
        _assert_exactly_once(tmp_path, campaign, 1200)
    finally:
        subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False)


def _wait_redis(port: int, *, up: bool = True) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ping = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True)
        if (ping.stdout.strip() == b"PONG") == up:
            return
        time.sleep(0.1)
    pytest.fail(f"redis did not {'start' if up else 'stop'}")


def test_pause_stops_sending_within_one_tick_and_resume_finishes(
    celery_worker, workspace, tmp_path
):
    campaign = _campaign(workspace, 900)
    celery_worker(env=_env(tmp_path, HERALD_TEST_SEND_DELAY="0.003"))
    campaign_launch(campaign=campaign)
    _drive(lambda: len(_sends(tmp_path)) >= 200, timeout=60)
    campaign_pause(campaign=campaign)
    # The batch in flight sees the pause and puts its unsent rest back: once nothing of the
    # campaign is `sending`, nothing more can be (paused runs' rows are never marked sending).
    _drive(lambda: _in_sending(campaign) == 0, timeout=60)
    after_pause = len(_sends(tmp_path))
    quiet_until = time.monotonic() + 5 * TICK  # five more ticks send nothing
    _drive(lambda: time.monotonic() > quiet_until, timeout=60)
    assert len(_sends(tmp_path)) == after_pause < 900
    assert Campaign.objects.get(pk=campaign.pk).state == Campaign.State.PAUSED
    campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk))
    _drive(_completed(campaign), timeout=TIMEOUT)
    _assert_exactly_once(tmp_path, campaign, 900)
