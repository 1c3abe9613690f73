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


async def _read_response(reader) -> tuple[int, bool]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length, close = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


async def _client(queue: list[bytes], port: int, latencies: list[float], statuses: dict):
    reader = writer = None
    while queue:
        request = queue.pop()
        for _attempt in range(3):
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.perf_counter()
            try:
                writer.write(request)
                status, close = await _read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                reader = writer = None
                continue
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            if close:
                writer.close()
                reader = writer = None
            break
    if writer is not None:
        writer.close()


async def load(requests: list[bytes], port: int, concurrency: int):
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    await asyncio.gather(*(_client(queue, port, latencies, statuses) for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def _cpu_seconds(pids) -> float:
    """User + system CPU of these processes so far (Linux /proc), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _backends() -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def wait_for(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit("gunicorn did not start")


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
        workers, backends = _children(gunicorn.pid), _backends()
        cpu_app, cpu_db, cpu_gen = (
            _cpu_seconds(workers),
            _cpu_seconds(backends),
            time.process_time(),
        )
        load_before = os.getloadavg()[0]
        elapsed, latencies, statuses = asyncio.run(load(requests, args.port, args.concurrency))
        cpu_app = _cpu_seconds(workers) - cpu_app
        cpu_db = _cpu_seconds(backends) - cpu_db
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
