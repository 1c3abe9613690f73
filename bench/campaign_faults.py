"""Campaign engine under faults (#12): real Celery workers, the fake Twilio, a fault mix.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/herald_bench_faults \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/campaign_faults.py --recipients 20000 --runs 3

Each run: one SMS campaign to N recipients (no sender limit, max_retries 0, so a message
failed for being rate limited would show) sent by two prefork Celery workers of two processes
each and a celery beat (tick every 0.5 s, lease 10 s), through the real twilio client to the
fake Twilio (tests/fakes/twilio.py) in this process, which logs every create. Faults:

* 429 storms: every create answers 429 (Retry-After 1) for 3 s in every 20 s;
* every 200 requests, one create answers 500 after creating the message (sent, outcome
  unknown), one answers 500 without creating it (reconciliation finds nothing and, after its
  2-minute settle time, sends it again), and one list request answers 500;
* at 25% sent, one pool child is frozen (SIGSTOP) for lease + 5 s, then resumed;
* at 50% sent, the second worker is killed (kill -9 of its process group) and restarted.

Reported per run: time and msg/s, provider creates that were refused, duplicates (a message
created twice at Twilio) and losses (a message never created, or not `sent`), and the CPU
the workers used per message (their processes' user + system time; PostgreSQL's backends
beside it). The database is the benchmark's own (created and migrated if needed).
"""

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
SLUG = "campaign-faults"
LEASE = 10
FAULT_EVERY = 200  # requests to the fake between injected 500s (one of each kind)


def setup():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("CELERY_BROKER_URL", "").startswith(
        "redis"
    ):
        sys.exit("Set DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).")
    name = url.rsplit("/", 1)[1].split("?")[0]
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
    )
    import django

    django.setup()


def make_campaign(n: int):
    from django.db import connection

    from accounts.models import Workspace
    from campaigns.models import Campaign
    from contacts.models import ContactGroup
    from messaging.models import PhoneNumber, Sender

    Workspace.objects.filter(slug=SLUG).delete()
    PhoneNumber.objects.filter(number="+14155559999").delete()
    workspace = Workspace.objects.create(name="Faults", slug=SLUG)
    group = ContactGroup.objects.create(workspace=workspace, name="Everyone")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_contact (workspace_id, first_name, last_name, email, phone, "
            "company, timezone, carrier, line_type, is_valid, status, opt_out_reason, metadata, "
            "created_at, updated_at) SELECT %s, 'C' || i, '', '', '+1415' || (2000000 + i), '', "
            "'', '', '', true, 'active', '', '{}', now(), now() FROM generate_series(0, %s) i",
            [workspace.id, n - 1],
        )
        cursor.execute(
            "INSERT INTO contacts_groupmembership (group_id, contact_id, source, created_at) "
            "SELECT %s, id, 'import', now() FROM contacts_contact WHERE workspace_id = %s",
            [group.id, workspace.id],
        )
    number = "+14155559999"
    claim = PhoneNumber.objects.create(
        workspace=workspace, number=number, key=f"{workspace.id}:{number}"
    )
    sender = Sender.objects.create(
        workspace=workspace, channel="sms", address=number, rate_limit_per_second=0, claim=claim
    )
    return Campaign.objects.create(
        workspace=workspace,
        group=group,
        sender=sender,
        name="Faults",
        channel="sms",
        message_template="Hi {{first_name}}",
        timezone="UTC",
        window_start_hour=0,
        window_end_hour=24,
        max_retries=0,
    )


class Proc:
    def __init__(self, args: list[str], env: dict, log: Path):
        self.log = log
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def children(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True)
        return [int(p) for p in found.stdout.split()]

    def cpu(self) -> float:
        """User + system seconds of the process and its pool children (live ones)."""
        total = 0.0
        for pid in [self.process.pid, *self.children()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def worker(env: dict, log: Path) -> Proc:
    proc = Proc(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
         "--concurrency=2", "--loglevel=WARNING", "--without-gossip", "--without-mingle"],
        env, log,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(proc.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    return proc


def created_ids(fake) -> Counter:
    ids = Counter()
    for resource in list(fake.messages.values()):
        ids[int(parse_qs(urlsplit(resource["_status_callback"]).query)["m"][0])] += 1
    return ids


def one_run(n: int, latency: float, tmp: Path, timeout: float = 3600) -> dict:
    from django.db import connection

    from bench.campaign_bench import backends_cpu
    from campaigns.lifecycle import campaign_launch
    from campaigns.models import Campaign
    from config.celery import app
    from messaging.models import Message
    from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

    campaign = make_campaign(n)
    fake = FakeTwilio().start()
    fake.state.latency = latency
    env = {
        **os.environ,
        "HERALD_SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": fake.base_url,
        "TWILIO_TIMEOUT_SECONDS": "10",
        "PUBLIC_BASE_URL": "https://herald.example.com",
        "HERALD_LEASE_SECONDS": str(LEASE),
        "HERALD_TICK_SECONDS": "0.5",
        "HERALD_LOG_LEVEL": "WARNING",
    }
    app.control.purge()
    workers = [worker(env, tmp / "w0.log"), worker(env, tmp / "w1.log")]
    beat = Proc(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=WARNING",
         "--schedule", str(tmp / "beat-schedule")],
        env, tmp / "beat.log",
    )  # fmt: skip
    stop = threading.Event()

    def faults():
        injected = 0
        while not stop.wait(0.2):
            while len(fake.state.requests) >= (injected + 1) * FAULT_EVERY:
                injected += 1
                fake.fail_next(500, after_create=True)
                fake.fail_next(500)
                fake.fail_next_list(500)

    injector = threading.Thread(target=faults, daemon=True)
    pg_before = backends_cpu()
    started = time.monotonic()
    campaign_launch(campaign=campaign)
    fake.start_storm(period=20.0, length=3.0, retry_after=1)
    injector.start()
    frozen = killed = False
    dead_cpu = 0.0
    next_report = time.monotonic() + 15
    try:
        while True:
            time.sleep(0.5)
            done = len(fake.messages)
            if time.monotonic() > next_report:
                next_report += 15
                open_ = Counter(
                    Message.objects.filter(campaign=campaign).values_list("status", flat=True)
                )
                print(f"  {time.monotonic() - started:.0f}s: {done:,} created; {dict(open_)}")
            if not frozen and done >= n // 4:
                frozen = True
                child = workers[0].children()[0]
                os.kill(child, signal.SIGSTOP)
                threading.Timer(LEASE + 5, os.kill, (child, signal.SIGCONT)).start()
            if not killed and done >= n // 2:
                killed = True
                dead_cpu += workers[1].cpu()
                workers[1].kill()
                workers[1] = worker(env, tmp / "w2.log")
            state = Campaign.objects.filter(pk=campaign.pk).values_list("state", flat=True)[0]
            if state == Campaign.State.COMPLETED:
                break
            if time.monotonic() - started > timeout:
                print(f"timed out after {timeout:.0f} s; logs in {tmp}")
                for log in sorted(tmp.glob("*.log")):
                    print(log.name, log.read_text()[-1500:])
                break
        elapsed = time.monotonic() - started
        cpu = dead_cpu + sum(w.cpu() for w in workers) + beat.cpu()
        pg_cpu = backends_cpu() - pg_before  # the workers' backends, while connected
    finally:
        stop.set()
        for proc in (*workers, beat):
            proc.stop()
        fake.stop()
    created = created_ids(fake)
    statuses = Counter(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    ids = set(Message.objects.filter(campaign=campaign).values_list("id", flat=True))
    duplicates = sum(1 for c in created.values() if c > 1)
    lost = len(ids - set(created)) + sum(v for k, v in statuses.items() if k != "sent")
    refused = len(fake.creates()) - len(fake.messages)
    connection.close()
    return {
        "elapsed": elapsed,
        "rate": n / elapsed,
        "duplicates": duplicates,
        "lost": lost,
        "refused": refused,
        "statuses": dict(statuses),
        "cpu_us": cpu / n * 1e6,
        "pg_us": pg_cpu / n * 1e6,
    }


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # one_run's finally stops the workers and beat


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds the fake takes per create"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # `timeout` must not orphan the workers
    setup()
    import logging
    import tempfile

    logging.getLogger("herald").setLevel(logging.ERROR)
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="herald-faults-") as tmp:
            r = one_run(args.recipients, args.latency, Path(tmp))
        print(
            f"run {i + 1}: {args.recipients:,} recipients in {r['elapsed']:.1f}s = "
            f"{r['rate']:.1f} msg/s; duplicates {r['duplicates']}, lost {r['lost']}; "
            f"{r['refused']:,} creates refused (429/500); statuses {r['statuses']}; CPU per "
            f"message: workers+beat {r['cpu_us']:.0f} µs, PostgreSQL {r['pg_us']:.0f} µs",
            flush=True,
        )


if __name__ == "__main__":
    main()
