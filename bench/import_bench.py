"""Benchmark contacts import (I5) on PostgreSQL through the same code path as the UI.

    .venv/bin/python bench/import_bench.py [N=1000000]
        [--database-url postgres://postgres@127.0.0.1:5432/herald_bench_import]

Generates a CSV of N rows (5% invalid, 5% duplicates of earlier rows with the phone written
differently, three custom columns, US phones in mixed national formats), then imports it into
a fresh workspace and group with import_job_create -> import_job_set_mapping ->
import_job_confirm -> import_job_run (what the Celery task runs), and reports rows/s, the
process's peak RSS, and CPU time per row of this process and of the database's PostgreSQL
processes (read from /proc: the server must run on this machine), which compare across
machines and loads better than wall time. Then imports the same file again (all duplicates,
strategy skip).
Targets: >= 15,000 rows/s first run, >= 20,000 rows/s re-import, peak RSS <= 400 MB.

With --other-contacts M (the multi-tenant case, #12), the first import runs --rounds times
into a fresh workspace of an empty table ("single tenant") and, alternating, into a fresh
workspace of a table where another workspace holds M contacts, analysed before the import,
with autovacuum off on the table (so nothing notices the new workspace's rows while it runs):
the planner believes the new workspace holds no contacts. Target: within 20% of the single
tenant's rows/s.
The database is created and migrated if missing; earlier bench data in it is truncated.
"""

import argparse
import os
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AREAS = [
    "201", "202", "203", "205", "206", "207", "208", "210", "212", "213", "214", "215", "216",
    "217", "218", "219", "224", "225", "228", "229", "231", "234", "239", "240", "248", "251",
    "252", "253", "254", "256", "260", "262", "267", "269", "270", "276", "281", "301", "302",
    "303", "304", "305", "307", "308", "309", "310", "312", "313", "314", "315", "316", "317",
    "318", "319", "320", "321", "323", "325", "330", "334", "336", "337", "339", "347", "351",
    "352", "360", "361", "385", "386", "401", "402", "404", "405", "406", "407", "408", "409",
    "410", "412", "413", "414", "415", "417", "419", "423", "424", "425", "430", "432", "434",
    "435", "440", "443", "469", "470", "475", "478", "479", "480", "484", "501", "502", "503",
]  # fmt: skip
FORMATS = [
    "({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "+1 {a} {e} {l}", "1-{a}-{e}-{l}", "{a}{e}{l}",
]  # fmt: skip
FIRST = "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth".split()  # noqa: SIM905
LAST = "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez".split()  # noqa: SIM905
PLANS = ["gold", "silver", "bronze"]


def _phone(i: int, style: int) -> str:
    area = AREAS[i % len(AREAS)]
    rest = i // len(AREAS)
    exchange = 200 + (rest // 10_000) % 800
    if exchange % 100 == 11:  # N11 exchanges are not assignable
        exchange += 1
    return FORMATS[style % len(FORMATS)].format(
        a=area, e=f"{exchange:03d}", l=f"{rest % 10_000:04d}"
    )


def generate(path: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("First Name,Last Name,Phone,Email,Company,Appointment Date,Plan,Clinic\r\n")
        for i in range(n):
            roll = rng.random()
            key = i
            phone_style = rng.randrange(len(FORMATS))
            if roll < 0.05 and i > 10:  # a duplicate of an earlier row, phone written differently
                key = rng.randrange(i - 1)
                phone_style += 1
            phone, email = _phone(key, phone_style), f"person{key}@example.com"
            if 0.05 <= roll < 0.075:
                phone = f"555-{key % 1000:03d}"  # too short to be a number
            elif 0.075 <= roll < 0.10:
                email = f"person{key}@@example"  # malformed
            f.write(
                f"{FIRST[key % 10]},{LAST[(key // 10) % 10]},{phone},{email},Company {key % 500},"
                f"2026-{1 + key % 12:02d}-{1 + key % 28:02d},{PLANS[key % 3]},Clinic {key % 40}\r\n"
            )


def _setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # As a production worker runs: with DEBUG on, Django also records every query it sends.
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    os.environ.setdefault("HERALD_MEDIA_ROOT", tempfile.mkdtemp(prefix="herald-import-bench-"))
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class BackendCpu:
    """CPU seconds used by this database's PostgreSQL processes (same machine) while running.

    Backends come and go (the writer thread has its own connection), so /proc is sampled
    every 50 ms; a backend that exits loses at most its last 50 ms. `own` is the sampler's
    CPU, to take off this process's figure.
    """

    def __init__(self, database: str):
        self.marker = f" {database} ".encode()
        self.tick = os.sysconf("SC_CLK_TCK")
        self.ours: dict[int, bool] = {}
        self.last: dict[int, int] = {}
        self.stop = threading.Event()

    def _sample(self) -> dict[int, int]:
        found = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                if pid not in self.ours:
                    cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ")
                    if cmdline.startswith(b"postgres: "):
                        self.ours[pid] = self.marker in cmdline
                    elif b"postgres" not in cmdline:  # else a backend not yet renamed
                        self.ours[pid] = False
                if self.ours.get(pid):
                    fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
                    found[pid] = int(fields[11]) + int(fields[12])  # utime + stime
            except OSError:
                continue
        return found

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            self.last.update(self._sample())
        self.own = time.thread_time()

    def __enter__(self):
        self.start = self._sample()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.last.update(self._sample())
        self.seconds = sum(t - self.start.get(pid, 0) for pid, t in self.last.items()) / self.tick


def run_import(workspace, path: Path, group_name: str):
    from django.core.files import File
    from django.db import connection

    from contacts.importing import (
        import_job_confirm,
        import_job_create,
        import_job_run,
        import_job_set_mapping,
    )

    started, cpu = time.perf_counter(), os.times()
    with BackendCpu(connection.settings_dict["NAME"]) as backends:
        with path.open("rb") as handle:
            job = import_job_create(
                workspace=workspace,
                user=None,
                file=File(handle),
                filename=path.name,
                size=path.stat().st_size,
            )
        import_job_set_mapping(job=job, mapping=None)
        import_job_confirm(job=job, group_name=group_name, duplicate_strategy="skip", enqueue=False)
        job = import_job_run(job_id=job.pk)
        seconds = time.perf_counter() - started
    after = os.times()
    cpu = (after.user + after.system) - (cpu.user + cpu.system) - backends.own
    return job, seconds, cpu, backends.seconds


def _truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE contacts_importrowerror, contacts_importjob, contacts_groupmembership, "
            "contacts_contact_tags, contacts_contactevent, contacts_contact, "
            "contacts_contactgroup CASCADE"
        )


def _other_tenant(count: int):
    """Another workspace holding `count` contacts (numbers unlike the file's), then ANALYZE
    and autovacuum off on the table: its statistics know only that workspace."""
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Workspace

    other, _ = Workspace.objects.get_or_create(
        slug="import-bench-other", defaults={"name": "Import bench, another tenant"}
    )
    stamp = timezone.now().isoformat()
    columns = "workspace_id, first_name, last_name, email, phone, company, timezone, carrier, "
    columns += "line_type, is_valid, status, opt_out_reason, metadata, created_at, updated_at"
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY contacts_contact ({columns}) FROM STDIN") as copy:
            copy.write(
                "".join(
                    f"{other.pk}\tOther\tTenant{i}\tother{i}@example.org\t+1415{2000000 + i:07d}"
                    f"\tOther Co\t\t\t\tt\tactive\t\t{{}}\t{stamp}\t{stamp}\n"
                    for i in range(count)
                )
            )
        cursor.execute("ANALYZE contacts_contact")
        cursor.execute("ALTER TABLE contacts_contact SET (autovacuum_enabled = off)")


def _report(label: str, job, seconds: float, cpu: float, pg_cpu: float) -> None:
    counts = {
        k: getattr(job, k) for k in ("total_rows", "created", "updated", "duplicates", "invalid")
    }
    print(
        f"{label}: {job.status} in {seconds:.1f}s = "
        f"{job.total_rows / seconds:,.0f} rows/s; "
        f"peak RSS so far {_peak_rss_mb():.0f} MB; {counts}; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(
        f"  CPU per row: this process {1e6 * cpu / job.total_rows:.0f} µs, "
        f"PostgreSQL backends {1e6 * pg_cpu / job.total_rows:.0f} µs "
        f"({cpu:.1f}s and {pg_cpu:.1f}s)",
        flush=True,
    )
    if job.error_message:
        print(f"  error: {job.error_message}")


def multi_tenant(path: Path, rows: int, others: int, rounds: int) -> None:
    """The first import into a new workspace, alone in the table and beside another tenant's
    `others` contacts, alternating; the medians side by side."""
    import statistics

    from django.db import connection

    from accounts.models import Workspace

    rates: dict[str, list[float]] = {"single tenant": [], "multi-tenant": []}
    try:
        for i in range(rounds):
            for label in rates:
                _truncate()
                if label == "multi-tenant":
                    _other_tenant(others)
                workspace = Workspace.objects.create(
                    slug=f"import-bench-{label[:5]}-{i}-{time.time_ns()}", name="Import bench"
                )
                job, seconds, cpu, pg_cpu = run_import(workspace, path, "Bench")
                _report(f"{label} first import (round {i + 1})", job, seconds, cpu, pg_cpu)
                rates[label].append(job.total_rows / seconds)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE contacts_contact RESET (autovacuum_enabled)")
    single, multi = (statistics.median(r) for r in rates.values())
    print(
        f"median rows/s: single tenant {single:,.0f}, multi-tenant ({others:,} other contacts) "
        f"{multi:,.0f} = {multi / single:.0%} of single (target >= 80%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "HERALD_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/herald_bench_import"
        ),
    )
    parser.add_argument(
        "--other-contacts",
        type=int,
        default=0,
        help="the multi-tenant case: first imports beside another workspace of this many "
        "contacts, alternating with a single tenant's",
    )
    parser.add_argument("--rounds", type=int, default=2, help="with --other-contacts: pairs")
    args = parser.parse_args()
    _setup_django(args.database_url)
    from accounts.models import Workspace

    _truncate()
    if args.other_contacts:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "contacts.csv"
            generate(path, args.rows)
            multi_tenant(path, args.rows, args.other_contacts, args.rounds)
        return
    workspace, _ = Workspace.objects.get_or_create(
        slug="import-bench", defaults={"name": "Import bench"}
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contacts.csv"
        t0 = time.perf_counter()
        generate(path, args.rows)
        size = path.stat().st_size / 1024 / 1024
        print(f"generated {args.rows:,} rows ({size:.1f} MB) in {time.perf_counter() - t0:.1f}s")
        for label, group in (
            ("first import", "Bench"),
            ("re-import (all duplicates, skip)", "Bench"),
        ):
            job, seconds, cpu, pg_cpu = run_import(workspace, path, group)
            _report(label, job, seconds, cpu, pg_cpu)


if __name__ == "__main__":
    main()
