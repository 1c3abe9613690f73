"""Benchmark: the AI agent answering SMS replies, on PostgreSQL + Redis with 2 Celery workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/herald_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/conversation_bench.py \
        [--contacts 2000] [--model-ms 300] [--concurrency 16] [--rate 200] [--runs 3]

It migrates the database, makes one workspace with an agent, an SMS campaign with one sent
message per contact, starts the fake OpenAI-compatible server (answering every request after
--model-ms), the fake Twilio, gunicorn (deploy/gunicorn.conf.py) and two Celery workers
(thread pool, --concurrency each: the number of model calls in flight is 2 x concurrency).
Then every contact replies once: signed inbound webhooks from 32 keep-alive connections, at
--rate per second. The debounce is 0 here (HERALD_AGENT_DEBOUNCE_SECONDS; by default 3 s, a
wait chosen on purpose, not a cost).

It reports answers/s (contacts / (last answer at the fake Twilio - first webhook sent)) and
the latency Herald adds beyond the model, per answer: from the inbound webhook's response to
the fake Twilio receiving the answer, minus the model call as Herald timed it
(AgentAnswer.latency_ms) — p50/p95/p99 — and the CPU of the workers, gunicorn and PostgreSQL
per answer. Target: added p95 <= 1.5 s.
"""

import argparse
import http.client
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from loadgen import children, cpu_seconds, database_backends, wait_for
from voice_bench import warm_up

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NUMBER = "+14155559999"


def configure(args, llm_port: int, twilio_url: str) -> dict:
    from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is written to).")
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        sys.exit("Set CELERY_BROKER_URL to a Redis database (it is purged).")
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
        "DJANGO_DEBUG": "0",
        "HERALD_HTTPS": "0",
        "HERALD_LOG_LEVEL": "ERROR",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{args.port}",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": twilio_url,
        "HERALD_SMS_BACKEND": "twilio",
        "HERALD_LLM_BASE_URL": f"http://127.0.0.1:{llm_port}/v1",
        "HERALD_LLM_MODEL": "fake-model",
        "HERALD_LLM_API_KEY": "fake-openai-key",
        "HERALD_LLM_TIMEOUT_SECONDS": "10",
        "HERALD_AGENT_DEBOUNCE_SECONDS": "0",
        "HERALD_LLM_DAILY_TOKENS": "0",
        "HERALD_BIND": f"127.0.0.1:{args.port}",
        "HERALD_ACCESS_LOG": "/dev/null",
        # Backends live through the run, so their CPU can be read (with 0, each request's
        # backend exits before it is measured and PostgreSQL showed 0.0 ms per answer).
        "DATABASE_CONN_MAX_AGE": "600",
    }
    os.environ.update(env)
    return env


def prepare(contacts: int) -> list[str]:
    """The workspace, agent, campaign and one sent message per contact; their phones."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import Workspace
    from campaigns.models import Campaign
    from contacts.models import Contact
    from conversations.models import Agent
    from messaging.models import Message, Sender
    from tests.messaging.factories import claim_for

    call_command("migrate", verbosity=0)
    Workspace.objects.filter(slug="conversation-bench").delete()
    workspace = Workspace.objects.create(name="Conversation bench", slug="conversation-bench")
    agent = Agent.objects.create(
        workspace=workspace, name="Ava", instructions="Confirm Friday's visit; be brief."
    )
    sender = Sender.objects.create(  # no rate limit: the bench measures Herald, not pacing
        workspace=workspace,
        channel="sms",
        address=NUMBER,
        rate_limit_per_second=0,
        claim=claim_for(workspace, "sms", NUMBER),
    )
    campaign = Campaign.objects.create(
        workspace=workspace, name="Visits", channel="sms", agent=agent, sender=sender
    )
    people = Contact.objects.bulk_create(
        Contact(workspace=workspace, first_name=f"Ann{i}", phone=f"+1415556{i:04d}")
        for i in range(contacts)
    )
    Message.objects.bulk_create(
        Message(
            workspace=workspace,
            campaign=campaign,
            contact=c,
            sender=sender,
            channel="sms",
            to_address=c.phone,
            body="Hi, your visit is Friday at 10. Reply to confirm.",
            status="delivered",
            sent_at=timezone.now(),
        )
        for c in people
    )
    return [c.phone for c in people]


def send_replies(port: int, phones: list[str], rate: float, run: int) -> dict[str, float]:
    """Each phone replies once (signed webhooks); when each webhook's response arrived."""
    from twilio.request_validator import RequestValidator

    from tests.fakes.twilio import AUTH_TOKEN

    validator = RequestValidator(AUTH_TOKEN)
    path = "/webhooks/twilio/inbound"
    url = f"http://127.0.0.1:{port}{path}"
    work: queue.Queue = queue.Queue()
    answered: dict[str, float] = {}
    failures: list[int] = []
    start = time.time()
    for index, phone in enumerate(phones):
        work.put((start + index / rate, phone, f"SM{run:04d}{index:028d}"))

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            try:
                due, phone, sid = work.get_nowait()
            except queue.Empty:
                break
            time.sleep(max(due - time.time(), 0))
            params = {"MessageSid": sid, "From": phone, "To": NUMBER, "Body": "Yes, Friday"}
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": validator.compute_signature(url, params),
            }
            connection.request("POST", path, urlencode(params), headers)
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                answered[phone] = time.time()
            else:
                failures.append(response.status)
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        print(f"  {len(failures)} webhooks failed: HTTP {sorted(set(failures))}")
    return answered


def one_run(args, run: int, twilio, pids: dict) -> None:
    from conversations.models import AgentAnswer

    phones = prepare(args.contacts)
    twilio.state.requests.clear()
    cpu = {name: cpu_seconds(children(pid) + [pid]) for name, pid in pids.items()}
    cpu_db = {pid: cpu_seconds([pid]) for pid in database_backends()}
    load = os.getloadavg()[0]
    first = time.time()
    responded = send_replies(args.port, phones, args.rate, run)
    deadline = time.time() + 300
    decided = AgentAnswer.objects.filter(conversation__contact__phone__in=phones)
    while time.time() < deadline:
        got = {r.param("To"): r.at for r in twilio.creates("Messages")}
        if len(got) >= len(responded):
            break
        # Every reply decided and every "reply" sent: the rest were handed to a person (a
        # model timeout on a loaded machine), and waiting longer would only add idle time.
        replies = decided.filter(outcome="reply").count()
        if decided.count() >= len(responded) and len(got) >= replies:
            break
        time.sleep(0.5)
    handoffs = decided.exclude(outcome="reply").count()
    used = {name: cpu_seconds(children(pid) + [pid]) - cpu[name] for name, pid in pids.items()}
    # Backends that connected during the run started from nothing.
    cpu_db = sum(cpu_seconds([pid]) - cpu_db.get(pid, 0) for pid in database_backends())
    model_ms = dict(
        AgentAnswer.objects.filter(conversation__contact__phone__in=phones).values_list(
            "conversation__contact__phone", "latency_ms"
        )
    )
    added = [1000 * (got[p] - responded[p]) - model_ms.get(p, 0) for p in responded if p in got]
    n = max(len(added), 1)
    span = max(got.values(), default=first) - first
    print(
        f"run {run + 1}: {len(responded)} webhooks answered, {len(added)} answers at the fake "
        f"Twilio in {span:.1f} s = {len(added) / max(span, 0.001):.1f} answers/s, "
        f"{handoffs} handed to a person; "
        f"load {load:.1f} on {os.cpu_count()} cores at the start"
    )
    print(f"  added ms beyond the model  {_percentiles(added)}")
    print(f"  model ms (Herald's clock)  {_percentiles(list(model_ms.values()))}")
    print(
        "  cpu ms per answer: "
        + ", ".join(f"{name} {1000 * s / n:.1f}" for name, s in used.items())
        + f", postgres {1000 * cpu_db / n:.1f}"
    )
    p95 = sorted(added)[min(int(len(added) * 0.95), len(added) - 1)] if added else float("inf")
    print(f"  target added p95 <= 1500 ms: {'met' if p95 <= 1500 else 'MISSED'} ({p95:.0f})")


def _percentiles(values: list[float]) -> str:
    values = sorted(values)
    if not values:
        return "-"

    def at(q):
        return values[min(int(len(values) * q), len(values) - 1)]

    return f"p50 {statistics.median(values):7.0f}  p95 {at(0.95):7.0f}  p99 {at(0.99):7.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--model-ms", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8151)
    parser.add_argument("--llm-port", type=int, default=8152)
    parser.add_argument("--twilio-port", type=int, default=0, help="0: any free port")
    args = parser.parse_args()

    from tests.fakes.openai import FakeOpenAI, decision
    from tests.fakes.twilio import FakeTwilio

    twilio = FakeTwilio(port=args.twilio_port).start()
    env = configure(args, args.llm_port, twilio.base_url)
    llm = FakeOpenAI(port=args.llm_port).start()
    delay = args.model_ms / 1000
    llm.set_default(lambda body: decision("reply", "Great, see you Friday!", delay=delay))
    prepare(1)
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "purge", "-f"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True,
    )  # fmt: skip
    processes = {
        "gunicorn": [
            sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "deploy/gunicorn.conf.py",
        ],
        **{
            f"worker{i}": [
                sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=threads",
                f"--concurrency={args.concurrency}", "--loglevel=WARNING", "-n", f"bench{i}@%h",
            ]
            for i in (1, 2)
        },
    }  # fmt: skip
    # `timeout` and Ctrl-C end the bench through the finally below, which stops gunicorn and
    # the workers (a SIGTERM's default action would leave them running, consuming the queue).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = {
        name: subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
        for name, command in processes.items()
    }
    try:
        wait_for(args.port)
        warm_up(args.port)  # every gunicorn worker has loaded the app
        time.sleep(5)  # the Celery workers connect and start consuming
        pids = {name: p.pid for name, p in started.items()}
        print(
            f"{args.contacts} replies at {args.rate:.0f}/s, model {args.model_ms} ms, "
            f"2 workers x {args.concurrency} threads = {2 * args.concurrency} model calls at once"
        )
        for run in range(args.runs):
            one_run(args, run, twilio, pids)
    finally:
        for process in started.values():
            os.killpg(process.pid, signal.SIGTERM)
        for process in started.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        llm.stop()
        twilio.stop()


if __name__ == "__main__":
    main()
