"""Campaign engine benchmark on PostgreSQL: fan-out rate, send throughput, peak memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/herald_bench \\
        .venv/bin/python bench/campaign_bench.py --contacts 1000000 --send 100000

1. Loads N contacts into one group with COPY (not timed), each with its own valid US number
   (the workspace sends to the US only, so the send-time country guard lets every one through).
2. Fan-out: one run of an SMS campaign to the whole group (rendering, time zones, quiet-hours
   window, bulk COPY of Message rows), in a fresh child process so its peak RSS is its own,
   with the CPU time it and its PostgreSQL backend used per message (comparable across
   machines when the wall clock is not).
   Repeated for N/10 to show memory is flat in N.
   With --links, the message carries a link (https://shop.example.com/renew) and the campaign
   tracks it (`on`: each recipient its own short link, the link rows COPYed beside the
   messages) or not (`off`: the same text, the link as written); `both` alternates off and on
   --rounds times, so the two are measured side by side on the same contacts (E1: tracking
   on must stay within 15% of off).
   With --audiences, the fan-out of the contacts whose plan is gold (half of them) from a
   static group of them and from a smart group "metadata.plan is gold", alternating --rounds
   times (G3: the smart group within 15% of the static group).
3. Sending: a campaign to the first --send contacts, sent on the console backend by 1 and then
   2 worker processes, each running the loop the Celery send task runs (claim with
   SELECT … FOR UPDATE SKIP LOCKED, commit `sending`, call the backend, record outcomes).
   The console backend's log lines are silenced so the terminal is not what is measured.
   With --provider-latency S, the send test goes instead through the real twilio client to
   the fake Twilio (tests/fakes/twilio.py, in this process) answering each create after S
   seconds (Twilio's API takes 100-300 ms), from a sender without a rate limit; it reports
   the most creates the fake had in flight at once, duplicates and misses at the fake, and
   the fake's own CPU per message beside the workers'.

The database named in DATABASE_URL is emptied of the benchmark's workspace first; it is
created and migrated if needed. Not part of the test suite.
"""

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# As production runs: with DEBUG on, Django also records every query it sends.
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
os.environ.setdefault("HERALD_SMS_BACKEND", "console")
SLUG = "campaign-bench"


def setup_django():
    import django

    django.setup()
    import logging

    logging.getLogger("herald.console").setLevel(logging.WARNING)
    logging.getLogger("herald.outbox").setLevel(logging.ERROR)


def ensure_database():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (e.g. …/herald_bench).")
    name = url.rsplit("/", 1)[1].split("?")[0]
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
    )


def load_contacts(n: int) -> tuple[int, int]:
    """A fresh workspace with one group of n contacts; returns (workspace id, group id)."""
    from django.db import connection

    from accounts.models import Workspace
    from contacts.models import ContactGroup

    Workspace.objects.filter(slug=SLUG).delete()
    workspace = Workspace.objects.create(name="Campaign bench", slug=SLUG)
    group = ContactGroup.objects.create(workspace=workspace, name="Everyone")
    from django.utils import timezone

    created = timezone.now()
    area_codes = us_area_codes()
    zones = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", ""]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        columns = (
            "workspace_id, first_name, last_name, email, phone, company, timezone, carrier, "
            "line_type, is_valid, status, opt_out_reason, metadata, created_at, updated_at"
        )
        with cursor.cursor.copy(f"COPY contacts_contact ({columns}) FROM STDIN") as copy:
            for i in range(n):
                opted = i % 50 == 0
                copy.write_row(
                    (
                        workspace.id, f"First{i}", f"Last{i}", f"c{i}@example.com",
                        bench_phone(i, area_codes), "Acme", zones[i % 5],
                        "", "", True, "opted_out" if opted else "active",
                        "manual" if opted else "", PLANS[i % 2], created, created,
                    )
                )  # fmt: skip
        cursor.execute(
            "INSERT INTO contacts_groupmembership (group_id, contact_id, source, created_at) "
            "SELECT %s, id, 'import', now() FROM contacts_contact WHERE workspace_id = %s",
            [group.id, workspace.id],
        )
        cursor.execute("ANALYZE contacts_contact; ANALYZE contacts_groupmembership;")
    print(f"loaded {n:,} contacts in {time.perf_counter() - started:.1f}s")
    return workspace.id, group.id


def us_area_codes() -> list[int]:
    """The US geographic area codes phonenumbers knows (no Canada, no Caribbean, no 900)."""
    import phonenumbers
    from phonenumbers import PhoneNumberType

    ordinary = {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
    codes = []
    for code in range(201, 990):
        number = phonenumbers.parse(f"+1{code}2345678")
        us = phonenumbers.region_code_for_number(number) == "US"
        if us and phonenumbers.number_type(number) in ordinary:
            codes.append(code)
    return codes


def bench_phone(i: int, area_codes: list[int]) -> str:
    """Contact i's number: a valid US number, distinct for each i. The send-time guard skips
    numbers outside the workspace's sending countries (US here) as blocked, so numbers like
    +1 (201…900) 555 …, half of them invalid, Canadian or Caribbean, made the send test skip
    about half its messages without a provider call."""
    return f"+1{area_codes[i % len(area_codes)]}{2_000_000 + i // len(area_codes):07d}"


PLANS = ('{"plan": "gold"}', '{"plan": "silver"}')  # the smart group takes the gold half
TEMPLATE = "Hi {{first_name|there}} {{last_name}}, your {{plan}} plan renews soon."
LINK_TEMPLATE = TEMPLATE[:-1] + ": https://shop.example.com/renew"


def make_campaign(
    workspace_id: int,
    group_id: int | None,
    name: str,
    links: str = "none",
    smart_group_id=None,
    sender=None,
):
    """links: "none" (no link in the text), "off" (a link, not tracked), "on" (tracked)."""
    from campaigns.models import Campaign

    return Campaign.objects.create(
        workspace_id=workspace_id,
        group_id=group_id,
        sender=sender,
        smart_group_id=smart_group_id,
        name=name,
        channel="sms",
        message_template=TEMPLATE if links == "none" else LINK_TEMPLATE,
        track_links=links == "on",
        timezone="America/New_York",
        window_start_hour=0,
        window_end_hour=24,
        state="running",
        next_run_at="2000-01-01T00:00:00Z",
    )


def backends_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to this database (the
    benchmark's database is its own, so these are the fan-out's connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend'"
        )
        pids = [row[0] for row in cursor.fetchall()]
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # PostgreSQL on another machine: backend CPU not measured
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM belongs to the current memory map; ru_maxrss also
    counts what the parent had resident when it forked (even when the child then execs)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fan_out_child(workspace_id: int, group_id: int, links: str, smart_id, queue) -> None:
    setup_django()
    from campaigns import fanout, lifecycle

    make_campaign(workspace_id, group_id, f"Fan-out links {links}", links, smart_id)
    (run_id,) = lifecycle.runs_start_due()
    pg_before = backends_cpu()
    cpu_before = time.process_time()
    started = time.perf_counter()
    fanout.run_fan_out(run_id=run_id)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    pg_cpu = backends_cpu() - pg_before
    from campaigns.models import CampaignRun

    run = CampaignRun.objects.get(pk=run_id)
    rss = peak_rss_mib()
    queue.put((run.total, run.skipped, elapsed, rss, cpu, pg_cpu, tracked_links(run_id)))


def tracked_links(run_id: int) -> int:
    """How many short links the run's messages got (0 before the engagement app existed)."""
    from django.apps import apps
    from django.db import connection

    if not apps.is_installed("engagement"):
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM engagement_trackedlink l "
            "JOIN messaging_message m ON m.id = l.message_id WHERE m.run_id = %s",
            [run_id],
        )
        return cursor.fetchone()[0]


def send_child(until_empty: bool, fake_url: str, queue) -> None:
    setup_django()
    from django.conf import settings

    from messaging import outbox, sending

    if fake_url:
        from messaging.backends import reset_backends
        from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN

        settings.HERALD_SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, AUTH_TOKEN
        settings.TWILIO_API_BASE_URL = fake_url
        settings.PUBLIC_BASE_URL = "https://herald.example.com"
        reset_backends()
        from messaging.backends import get_backend
        from messaging.twilio_client import twilio_client

        get_backend("sms"), twilio_client().messages  # imported before the clock starts

    outcomes: dict[str, int] = {}
    started = time.perf_counter()
    cpu = time.process_time()
    while ids := outbox.outbox_claim(limit=settings.HERALD_SEND_BATCH):
        for status, count in sending.outbox_send(message_ids=ids).items():
            outcomes[status] = outcomes.get(status, 0) + count
    cpu = time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((outcomes, time.perf_counter() - started, rss, cpu, backends_cpu_self()))


def backends_cpu_self() -> float:
    """CPU seconds of this process's own PostgreSQL backend."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(target, *args):
    """Run target in a fresh interpreter: a forked child shares the parent's memory (which
    deleted and loaded the contacts), so its peak RSS would not be its own."""
    spawn = mp.get_context("spawn")
    queue = spawn.Queue()
    process = spawn.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def truncate_messages() -> None:
    """The benchmark database is the benchmark's own: start each phase with an empty outbox."""
    from django.apps import apps
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE messaging_message CASCADE")
        if apps.is_installed("engagement"):  # their keys have no constraint for CASCADE
            cursor.execute("TRUNCATE engagement_trackedlink, engagement_click")


def existing_group(n: int) -> tuple[int, int] | None:
    """The benchmark group from an earlier run, if it has exactly n contacts."""
    from contacts.models import ContactGroup, GroupMembership

    group = ContactGroup.objects.filter(workspace__slug=SLUG, name="Everyone").first()
    if group and GroupMembership.objects.filter(group=group).count() == n:
        return group.workspace_id, group.id
    return None


def bench_fan_out(n: int, *, reuse: bool = False, links: str = "none") -> dict:
    truncate_messages()
    found = existing_group(n) if reuse else None
    workspace_id, group_id = found or load_contacts(n)
    total, skipped, elapsed, rss, cpu, pg_cpu, made = run_child(
        fan_out_child, workspace_id, group_id, links, None
    )
    rate = total / elapsed
    label = "" if links == "none" else f" links {links:<3}"
    print(
        f"fan-out{label} N={n:>9,}: {total:,} messages ({skipped:,} skipped) in {elapsed:.1f}s = "
        f"{rate:,.0f} msg/s, peak RSS {rss:.0f} MiB; CPU per message: "
        f"fan-out process {cpu / total * 1e6:.0f} µs, "
        f"PostgreSQL backend {pg_cpu / total * 1e6:.0f} µs"
        + ("" if links == "none" else f"; {made:,} tracked links"),
        flush=True,
    )
    if links == "on" and made != total - skipped:
        sys.exit(f"{total - skipped:,} messages written but {made:,} tracked links")
    return {"n": n, "rate": rate, "rss": rss, "cpu": cpu / total, "pg_cpu": pg_cpu / total}


def bench_links(n: int, rounds: int, *, reuse: bool) -> None:
    """Fan-out with a link tracked and not, alternating, then the medians side by side."""
    results: dict[str, list[dict]] = {"off": [], "on": []}
    for i in range(rounds):
        for links in ("off", "on"):
            results[links].append(
                bench_fan_out(n, reuse=reuse or i > 0 or links == "on", links=links)
            )

    print(f"links, median (min-max) of {rounds}:")
    for key, unit, scale in (("rate", "msg/s", 1), ("cpu", "µs", 1e6), ("pg_cpu", "µs", 1e6)):
        row = {}
        for links in ("off", "on"):
            values = [r[key] * scale for r in results[links]]
            row[links] = statistics.median(values)
            spread = f"{row[links]:,.0f} ({min(values):,.0f}-{max(values):,.0f})"
            print(f"  {key:<7} {unit:<6} {links:<3} {spread}")
        print(f"  {key:<7} on/off {row['on'] / row['off']:.2f}")


def gold_audiences(n: int) -> tuple[int, int, int]:
    """(workspace, a static group of the gold half, a smart group "plan is gold"): the same
    contacts, for G3's fan-out from a smart group beside a static group of the same size."""
    from django.db import connection

    from audiences.models import SmartGroup
    from contacts.models import ContactGroup

    workspace_id, _ = existing_group(n) or load_contacts(n)
    gold, created = ContactGroup.objects.get_or_create(workspace_id=workspace_id, name="Gold")
    if created:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO contacts_groupmembership (group_id, contact_id, source, created_at) "
                "SELECT %s, id, 'import', now() FROM contacts_contact "
                "WHERE workspace_id = %s AND metadata->>'plan' = 'gold'",
                [gold.id, workspace_id],
            )
            cursor.execute("ANALYZE contacts_groupmembership")
    smart, _ = SmartGroup.objects.get_or_create(
        workspace_id=workspace_id,
        name="Gold plan",
        defaults={"conditions": [{"field": "metadata.plan", "op": "eq", "value": "gold"}]},
    )
    return workspace_id, gold.id, smart.id


def bench_audiences(n: int, rounds: int) -> None:
    """Fan-out from the static "Gold" group and from the smart group of the same contacts,
    alternating, then the medians side by side (G3: the smart group within 15%)."""
    workspace_id, gold_id, smart_id = gold_audiences(n)
    results: dict[str, list[dict]] = {"static": [], "smart": []}
    for _ in range(rounds):
        for kind in ("static", "smart"):
            truncate_messages()
            group_id, smart = (gold_id, None) if kind == "static" else (None, smart_id)
            total, skipped, elapsed, rss, cpu, pg_cpu, _ = run_child(
                fan_out_child, workspace_id, group_id, "none", smart
            )
            print(
                f"fan-out {kind:<6} {total:,} messages in {elapsed:.1f}s = {total / elapsed:,.0f} "
                f"msg/s, peak RSS {rss:.0f} MiB; CPU per message: fan-out process "
                f"{cpu / total * 1e6:.0f} µs, PostgreSQL backend {pg_cpu / total * 1e6:.0f} µs",
                flush=True,
            )
            results[kind].append(
                {"rate": total / elapsed, "cpu": cpu / total, "pg_cpu": pg_cpu / total}
            )
    print(f"audiences, median (min-max) of {rounds}:")
    for key, unit, scale in (("rate", "msg/s", 1), ("cpu", "µs", 1e6), ("pg_cpu", "µs", 1e6)):
        row = {}
        for kind in ("static", "smart"):
            values = [r[key] * scale for r in results[kind]]
            row[kind] = statistics.median(values)
            spread = f"{min(values):,.0f}-{max(values):,.0f}"
            print(f"  {key:<7} {unit:<6} {kind:<6} {row[kind]:,.0f} ({spread})")
        print(f"  {key:<7} smart/static {row['smart'] / row['static']:.2f}")


def bench_sender(workspace_id: int):
    """An SMS sender without a rate limit (the twilio backend needs a From number)."""
    from messaging.models import PhoneNumber, Sender

    number = "+14155559998"
    PhoneNumber.objects.filter(number=number).exclude(workspace_id=workspace_id).delete()
    claim, _ = PhoneNumber.objects.get_or_create(
        number=number, defaults={"workspace_id": workspace_id, "key": f"{workspace_id}:{number}"}
    )
    sender, _ = Sender.objects.get_or_create(
        workspace_id=workspace_id, channel="sms", address=number, claim=claim,
        defaults={"rate_limit_per_second": 0},
    )  # fmt: skip
    return sender


def bench_send(count: int, workers: int, fake=None) -> dict:
    from django.db import connection, connections

    from accounts.models import Workspace
    from campaigns import fanout, lifecycle
    from campaigns.models import Campaign
    from contacts.models import ContactGroup

    workspace = Workspace.objects.get(slug=SLUG)
    group, _ = ContactGroup.objects.get_or_create(workspace=workspace, name=f"First {count}")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM contacts_groupmembership WHERE group_id = %s", [group.id])
        cursor.execute(
            "INSERT INTO contacts_groupmembership (group_id, contact_id, source, created_at) "
            "SELECT %s, id, 'import', now() FROM contacts_contact "
            "WHERE workspace_id = %s AND status = 'active' ORDER BY id LIMIT %s",
            [group.id, workspace.id, count],
        )
    Campaign.objects.filter(workspace=workspace).update(state="completed", next_run_at=None)
    truncate_messages()
    sender = bench_sender(workspace.id) if fake else None
    make_campaign(workspace.id, group.id, f"Send x{workers}", sender=sender)
    for run_id in lifecycle.runs_start_due():
        fanout.run_fan_out(run_id=run_id)
    connections.close_all()
    queue = mp.Queue()
    url = fake.base_url if fake else ""
    processes = [mp.Process(target=send_child, args=(True, url, queue)) for _ in range(workers)]
    if fake:
        fake.reset()
    fake_cpu = time.process_time()
    started = time.perf_counter()
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    outcomes: dict[str, int] = {}
    for result in results:
        for status, count in result[0].items():
            outcomes[status] = outcomes.get(status, 0) + count
    sent = sum(outcomes.values())
    fake_cpu = (time.process_time() - fake_cpu) / sent * 1e6
    rss = max(r[2] for r in results)
    cpu = sum(r[3] for r in results) / sent * 1e6
    pg_cpu = sum(r[4] for r in results) / sent * 1e6
    at_fake = ""
    if fake:
        created = fake_created(fake)
        twice = sum(1 for n in created.values() if n > 1)
        at_fake = (
            f", fake Twilio {fake_cpu:.0f} µs; at the fake: {len(created):,} created "
            f"({len(created) / elapsed:,.0f}/s), {twice} twice, at most "
            f"{fake.state.max_in_flight} creates in flight"
        )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"send     {workers} worker(s): {sent:,} messages in {elapsed:.1f}s = "
        f"{sent / elapsed:,.0f} msg/s, peak RSS per worker {rss:.0f} MiB; CPU per message: "
        f"worker {cpu:.0f} µs, PostgreSQL backend {pg_cpu:.0f} µs; outcomes "
        + ", ".join(f"{status} {count:,}" for status, count in sorted(outcomes.items()))
        + f"{at_fake}; load {load}",
        flush=True,
    )
    if outcomes.get("skipped"):
        print(
            f"  warning: {outcomes['skipped']:,} skipped without a provider call: contacts "
            "from an older run with invalid numbers? (run without --reuse/--send-only)",
            flush=True,
        )
    return {"workers": workers, "rate": sent / elapsed, "rss": rss, "cpu": cpu, "pg": pg_cpu}


def fake_created(fake) -> dict[int, int]:
    """How many times the fake created each message (by the id in its status callback)."""
    from collections import Counter
    from urllib.parse import parse_qs, urlsplit

    ids: Counter = Counter()
    for created in list(fake.messages.values()):
        ids[int(parse_qs(urlsplit(created["_status_callback"]).query)["m"][0])] += 1
    return ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--send", type=int, default=100_000, help="messages in the send test")
    parser.add_argument("--skip-small", action="store_true", help="skip the N/10 memory check")
    parser.add_argument(
        "--reuse", action="store_true", help="keep contacts loaded by an earlier run with this N"
    )
    parser.add_argument("--no-send", action="store_true", help="measure the fan-out only")
    parser.add_argument("--send-rounds", type=int, default=1, help="send test repetitions")
    parser.add_argument(
        "--provider-latency",
        type=float,
        default=None,
        help="send through the twilio client to the fake Twilio answering after this many "
        "seconds per create (instead of the console backend)",
    )
    parser.add_argument(
        "--send-workers", default="1,2", help="worker processes of the send test (e.g. 2)"
    )
    parser.add_argument(
        "--send-only", action="store_true", help="measure sending only (contacts already loaded)"
    )
    parser.add_argument(
        "--links",
        choices=["none", "off", "on", "both"],
        default="none",
        help="a link in the message, tracked (on) or not (off); both: side by side, alternating "
        "(fan-out of N only; no N/10 check, no sending)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --links both / --audiences: pairs"
    )
    parser.add_argument(
        "--audiences",
        action="store_true",
        help="fan-out from a smart group of half the contacts beside a static group of the same "
        "contacts, alternating --rounds times (G3: within 15%%)",
    )
    args = parser.parse_args()
    ensure_database()
    setup_django()
    if args.audiences:
        bench_audiences(args.contacts, args.rounds)
        return
    if args.links == "both":
        bench_links(args.contacts, args.rounds, reuse=args.reuse)
        return
    if not args.send_only:
        if not args.skip_small:
            bench_fan_out(args.contacts // 10)
        bench_fan_out(args.contacts, reuse=args.reuse, links=args.links)
    if not args.no_send:
        fake = None
        if args.provider_latency is not None:
            from tests.fakes.twilio import FakeTwilio

            fake = FakeTwilio().start()
            fake.state.latency = args.provider_latency
        try:
            for _ in range(args.send_rounds):
                for workers in (int(w) for w in args.send_workers.split(",")):
                    bench_send(args.send, workers, fake)
        finally:
            if fake:
                fake.stop()


if __name__ == "__main__":
    mp.set_start_method("fork")
    main()
