"""Benchmark: signed Twilio status callbacks against the app under gunicorn on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/herald_bench .venv/bin/python \
        bench/webhook_bench.py [--callbacks 20000] [--concurrency 32] [--workers 2]

It creates the database's tables (migrate), one workspace with N sent messages, starts
gunicorn (`--workers`; gthread with 16 threads as the README runs it, or sync) bound to
loopback, and posts one `delivered` callback per message, each signed with twilio's
RequestValidator exactly as Twilio signs it, from an asyncio load generator over keep-alive
connections. It reports requests/s and
latency percentiles, then checks in the database that every status landed (none lost).
Target on a 2-core machine: >= 1,500 callbacks/s, p99 <= 50 ms, none lost.
"""

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from loadgen import children, cpu_seconds, database_backends, load, wait_for

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOKEN = "bench-auth-token-0123456789abcdef"
PATH = "/webhooks/twilio/status"


def configure(port: int) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
        "DJANGO_DEBUG": "0",
        "HERALD_HTTPS": "0",
        "HERALD_LOG_LEVEL": "ERROR",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_CONN_MAX_AGE": "600",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    os.environ.update(env)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is written to).")
    return env


def prepare(count: int) -> list[str]:
    """Migrate, then a workspace with `count` sent messages; returns their sids."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import Workspace
    from contacts.models import Contact
    from messaging.models import Message

    call_command("migrate", verbosity=0)
    Workspace.objects.filter(slug="webhook-bench").delete()
    workspace = Workspace.objects.create(name="Webhook bench", slug="webhook-bench")
    contact = Contact.objects.create(workspace=workspace, phone="+14155550100")
    now = timezone.now()
    stamp = int(time.time())
    sids = [f"SM{stamp:010x}{i:022x}" for i in range(count)]
    Message.objects.bulk_create(
        [
            Message(
                workspace=workspace,
                contact=contact,
                channel="sms",
                to_address=contact.phone,
                body="bench",
                status="sent",
                sent_at=now,
                provider_message_id=sid,
            )
            for sid in sids
        ],
        batch_size=5000,
    )
    return sids


def signed_requests(sids: list[str], port: int) -> list[bytes]:
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TOKEN)
    url = f"http://127.0.0.1:{port}{PATH}"
    raw = []
    for sid in sids:
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": "+15005550006",
            "To": "+14155550100",
            "MessageStatus": "delivered",
            "SmsStatus": "delivered",
            "ApiVersion": "2010-04-01",
        }
        body = urlencode(params).encode()
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {validator.compute_signature(url, params)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        raw.append(head.encode() + body)
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--callbacks", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--threads", type=int, default=16, help="gthread threads per worker")
    parser.add_argument("--port", type=int, default=8199)
    args = parser.parse_args()

    env = configure(args.port)
    sids = prepare(args.callbacks)
    requests = signed_requests(sids, args.port)
    warmup = signed_requests(sids[:200], args.port)
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--threads",
            str(args.threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    try:
        wait_for(args.port)
        asyncio.run(load(warmup, args.port, args.concurrency))  # the same sids again later: no-ops
        workers, backends = children(gunicorn.pid), database_backends()
        cpu_app, cpu_db, cpu_gen = (
            cpu_seconds(workers),
            cpu_seconds(backends),
            time.process_time(),
        )
        load_before = os.getloadavg()[0]
        elapsed, latencies, statuses = asyncio.run(load(requests, args.port, args.concurrency))
        cpu_app = cpu_seconds(workers) - cpu_app
        cpu_db = cpu_seconds(backends) - cpu_db
        cpu_gen = time.process_time() - cpu_gen
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)

    from messaging.models import Message

    landed = Message.objects.filter(provider_message_id__in=sids, status="delivered").count()
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    rate = len(latencies) / elapsed
    print(f"callbacks:   {len(latencies)} in {elapsed:.2f}s, HTTP statuses {statuses}")
    print(f"throughput:  {rate:,.0f} requests/s")
    print(
        f"latency ms:  p50 {statistics.median(ms):.1f}  p90 {ms[int(len(ms) * 0.9)]:.1f}"
        f"  p99 {ms[int(len(ms) * 0.99)]:.1f}  max {ms[-1]:.1f}"
    )
    n = len(latencies)
    per = [1000 * cpu / n for cpu in (cpu_app, cpu_db, cpu_gen)]
    print(
        f"cpu ms/req:  gunicorn {per[0]:.2f}  postgres {per[1]:.2f}  load generator {per[2]:.2f}"
        f"  (machine load average {load_before:.1f} on {os.cpu_count()} cores at the start)"
    )
    print(
        f"capacity:    ~{os.cpu_count() * 1000 / sum(per):,.0f} requests/s if the cores were ours"
    )
    print(f"landed:      {landed}/{len(sids)} messages delivered in the database")
    ok = landed == len(sids) and statuses == {200: len(sids)}
    print("result:      OK" if ok else "result:      LOST OR FAILED CALLBACKS")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
