"""Benchmark: tracked link redirects (GET /l/<code>) under gunicorn on PostgreSQL, beside a
bare gunicorn application answering a fixed 302 with the same worker settings.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/herald_bench .venv/bin/python \
        bench/redirect_bench.py [--links 200000] [--requests 40000] [--rounds 3]

It creates the database's tables (migrate) and one workspace with a campaign whose messages
have --links tracked links in all. Then, --rounds times, it serves the same requests from the
bare application (bench/bare_redirect.py) and from Herald (config.wsgi), both under gunicorn
with deploy/gunicorn.conf.py (gthread workers, access log) as the README deploys it. The
requests are GETs of random codes, 5% of them unknown, from an asyncio load generator over
keep-alive connections on loopback. Each round reports redirects/s, latency percentiles and
CPU per request (gunicorn, PostgreSQL, the load generator) of both, and, after Herald has been
stopped (gracefully, as a deploy does), that every 302 it answered left exactly one counted
click in the database; then the CPU the tick spends adding those clicks to their contacts'
counts (done off the redirect's path, engagement.clicks.contact_clicks_count).
Target: Herald >= 70% of the bare rate, p99 <= 2x the bare p99, no click lost.
"""

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from loadgen import children, cpu_seconds, database_backends, load, wait_for

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SLUG = "redirect-bench"
AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
UNKNOWN_SHARE = 0.05


def configure(port: int) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
        "DJANGO_DEBUG": "0",
        "HERALD_HTTPS": "0",
        "HERALD_LOG_LEVEL": "ERROR",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_CONN_MAX_AGE": "600",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    os.environ.update(env)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is written to).")
    return env


def _clear_previous(cursor) -> None:
    """The last run's workspace, by SQL: the ORM's cascade would load 200,000 messages."""
    cursor.execute("SELECT id FROM accounts_workspace WHERE slug = %s", [SLUG])
    for (workspace_id,) in cursor.fetchall():
        for sql in (
            "DELETE FROM engagement_click WHERE workspace_id = %s",
            "DELETE FROM engagement_clicktocount WHERE contact_id IN "
            "(SELECT id FROM contacts_contact WHERE workspace_id = %s)",
            "DELETE FROM engagement_trackedlink WHERE message_id IN "
            "(SELECT id FROM messaging_message WHERE workspace_id = %s)",
            "DELETE FROM messaging_message WHERE workspace_id = %s",
            "DELETE FROM campaigns_campaignrun WHERE workspace_id = %s",
            "DELETE FROM campaigns_campaign WHERE workspace_id = %s",
            "DELETE FROM contacts_contact WHERE workspace_id = %s",
            "DELETE FROM accounts_workspace WHERE id = %s",
        ):
            cursor.execute(sql, [workspace_id])


def prepare(links: int, contacts: int) -> list[str]:
    """Migrate; a workspace, `contacts` contacts, a campaign with runs whose messages (one per
    contact and run, delivered an hour ago) have `links` links. Returns the codes."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Workspace
    from campaigns.models import Campaign, CampaignRun
    from contacts.models import Contact
    from engagement.codes import new_codes

    call_command("migrate", verbosity=0)
    with transaction.atomic(), connection.cursor() as cursor:
        _clear_previous(cursor)
        workspace = Workspace.objects.create(name="Redirect bench", slug=SLUG)
        Contact.objects.bulk_create(
            (Contact(workspace=workspace, phone=f"+1415{i:07d}") for i in range(contacts)),
            batch_size=5000,
        )
        campaign = Campaign.objects.create(workspace=workspace, name="Bench", state="running")
        runs = -(-links // contacts)
        sent = timezone.now() - timezone.timedelta(hours=1)
        for n in range(runs):
            run = CampaignRun.objects.create(
                workspace=workspace, campaign=campaign, occurrence_at=sent + timezone.timedelta(n)
            )
            cursor.execute(
                "INSERT INTO messaging_message (workspace_id, run_id, campaign_id, contact_id, "
                "channel, to_address, subject, body, html_body, send_after, status, "
                "skip_reason, attempts, last_error, error_code, provider_message_id, "
                "sent_at, delivered_at, created_at, updated_at) "
                "SELECT %s, %s, %s, id, 'sms', phone, '', 'Sale!', '', %s, 'delivered', '', 1, "
                "'', '', '', %s, %s, %s, %s FROM contacts_contact WHERE workspace_id = %s "
                "ORDER BY id LIMIT %s",
                [workspace.id, run.id, campaign.id, sent, sent, sent, sent, sent]
                + [workspace.id, min(contacts, links - n * contacts)],
            )
        cursor.execute("SELECT id FROM messaging_message WHERE workspace_id = %s", [workspace.id])
        message_ids = [row[0] for row in cursor.fetchall()]
        codes = new_codes(len(message_ids))
        url = "https://shop.example.com/spring-sale?utm_source=herald&utm_medium=sms"
        copy_sql = "COPY engagement_trackedlink (code, message_id, url) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for code, message_id in zip(codes, message_ids, strict=True):
                copy.write_row((code, message_id, url))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE engagement_trackedlink")
        cursor.execute("ANALYZE messaging_message")
    return codes


def requests_for(codes: list[str], count: int, port: int, seed: int) -> list[bytes]:
    """`count` GETs of random codes, UNKNOWN_SHARE of them unknown."""
    from engagement.codes import new_codes

    rng = random.Random(seed)
    unknown = iter(new_codes(count))
    raw = []
    for _ in range(count):
        code = next(unknown) if rng.random() < UNKNOWN_SHARE else rng.choice(codes)
        raw.append(
            f"GET /l/{code} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {AGENT}\r\n"
            "Accept: text/html\r\n\r\n".encode()
        )
    return raw


@dataclass
class Result:
    name: str
    count: int
    elapsed: float
    latencies: list[float]
    statuses: dict
    cpu: tuple[float, float, float]  # gunicorn, postgres, load generator (seconds)
    redirects: int  # 302s answered, warm-up included

    @property
    def rate(self) -> float:
        return self.count / self.elapsed

    def percentile(self, share: float) -> float:
        ms = sorted(self.latencies)
        return 1000 * ms[min(int(len(ms) * share), len(ms) - 1)]

    def line(self) -> str:
        per = [1000 * c / self.count for c in self.cpu]
        return (
            f"{self.name:7} {self.rate:8,.0f} req/s  p50 {self.percentile(0.5):6.1f} ms  "
            f"p99 {self.percentile(0.99):6.1f} ms  cpu ms/req gunicorn {per[0]:.3f} "
            f"postgres {per[1]:.3f} loadgen {per[2]:.3f}  statuses {self.statuses}"
        )


def serve(target: str, args, env: dict, requests: list[bytes], warmup: list[bytes], name: str):
    # Both applications run with Herald's own gunicorn settings (deploy/gunicorn.conf.py, as
    # the README deploys it, access log included), bound to loopback instead of the socket.
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        target,
        "--config",
        str(ROOT / "deploy" / "gunicorn.conf.py"),
        "--pythonpath",
        str(ROOT / "bench"),
    ]
    settings = {
        "HERALD_BIND": f"127.0.0.1:{args.port}",
        "HERALD_WEB_WORKERS": str(args.workers),
        "HERALD_WEB_THREADS": str(args.threads),
    }
    gunicorn = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env, **settings}, stdout=subprocess.DEVNULL
    )
    try:
        wait_for(args.port)
        _, _, warm = asyncio.run(load(warmup, args.port, args.concurrency))
        workers, backends = children(gunicorn.pid), database_backends()
        before = (cpu_seconds(workers), cpu_seconds(backends), time.process_time())
        elapsed, latencies, statuses = asyncio.run(load(requests, args.port, args.concurrency))
        after = (cpu_seconds(workers), cpu_seconds(backends), time.process_time())
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=60)
    cpu = tuple(b - a for a, b in zip(before, after, strict=True))
    redirects = warm.get(302, 0) + statuses.get(302, 0)
    return Result(name, len(latencies), elapsed, latencies, statuses, cpu, redirects)


def clicks_counted() -> tuple[int, float]:
    """The tick's share of the clicks (engagement.clicks.contact_clicks_count): adding them to
    their contacts' counts after the redirects. Returns (clicks, CPU seconds of this process
    and its PostgreSQL backend)."""
    from django.db import connection

    from engagement.clicks import contact_clicks_count

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = [cursor.fetchone()[0]]
    before = time.process_time() + cpu_seconds(backend)
    counted = contact_clicks_count()
    return counted, time.process_time() + cpu_seconds(backend) - before


def clicks_stored() -> int:
    from engagement.models import Click

    return Click.objects.filter(workspace__slug=SLUG, kind="human").count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--links", type=int, default=200_000)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16, help="gthread threads per worker")
    parser.add_argument("--port", type=int, default=8140)
    args = parser.parse_args()

    env = configure(args.port)
    codes = prepare(args.links, min(args.contacts, args.links))
    print(
        f"{len(codes):,} links; {args.requests:,} requests a run ({UNKNOWN_SHARE:.0%} unknown),"
        f" {args.concurrency} connections; deploy/gunicorn.conf.py with {args.workers} workers x "
        f"{args.threads} threads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    ok = True
    for round_ in range(1, args.rounds + 1):
        requests = requests_for(codes, args.requests, args.port, seed=round_)
        warmup = requests_for(codes, 1000, args.port, seed=-round_)
        stored_before = clicks_stored()
        bare = serve("bare_redirect:application", args, env, requests, warmup, "bare")
        herald = serve("config.wsgi", args, env, requests, warmup, "herald")
        redirected = herald.redirects
        stored = clicks_stored() - stored_before
        counted, count_cpu = clicks_counted()
        rate, p99 = herald.rate / bare.rate, herald.percentile(0.99) / bare.percentile(0.99)
        good = rate >= 0.7 and p99 <= 2 and stored == redirected
        ok = ok and good
        print(f"round {round_}")
        print("  " + bare.line())
        print("  " + herald.line())
        print(
            f"  herald/bare: rate {rate:.0%}, p99 {p99:.2f}x; clicks stored {stored:,} of "
            f"{redirected:,} redirects (warm-up included): {'OK' if good else 'MISSED'}"
        )
        print(
            f"  then the tick counted {counted:,} people's clicks on their contacts: "
            f"{1000 * count_cpu / max(counted, 1):.3f} ms CPU a click (process + PostgreSQL)"
        )
    print("result: OK" if ok else "result: TARGET MISSED OR CLICKS LOST")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
