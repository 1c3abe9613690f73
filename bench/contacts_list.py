"""Benchmark the contacts list at 1,000,000 contacts (C5) on PostgreSQL.

    .venv/bin/python bench/contacts_list.py [--contacts 1000000] [--runs 25] [--reset]
        [--only list|smart-groups] [--match 'sort=']
        [--database-url postgres://postgres@127.0.0.1:5432/herald_bench_a]

Seeds a dedicated database once (generate_series SQL: ~1 min for a million contacts in 20
groups, custom fields on every contact; tags, messages and replies for the smart groups), then
requests each page through Django's test client and reports median and p95 in milliseconds:
the dashboard list (full page and the htmx fragment; every sort of the table both ways on
pages 1, 2 and 2000; sorts under filters) and the JSON API list (target: every median <= 150
ms), with CPU ms per page of this process and of its PostgreSQL backend (not of parallel
workers), and smart groups' counts and first pages, with and without candidate
indexes (bench/audiences_cases.py; target: every count <= 300 ms).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST = (  # noqa: SIM905
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily "
    "Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah "
    "Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Amy "
    "Jacob Kathleen Gary Angela Nicholas Shirley Eric Brenda Jonathan Emma Stephen Anna"
).split()
LAST = (  # noqa: SIM905
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
    "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez"
).split()
GROUPS = 20


def ensure_database(url: str, reset: bool) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reset:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def seed(total: int):
    """The bench workspace with `total` contacts in 20 groups (idempotent)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from accounts.models import Membership, Workspace
    from contacts.models import Contact, ContactGroup

    workspace, _ = Workspace.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    user, _ = get_user_model().objects.get_or_create(username="bench")
    Membership.objects.get_or_create(user=user, workspace=workspace, defaults={"role": "owner"})
    # A second workspace, so every query really has to filter by workspace.
    other, _ = Workspace.objects.get_or_create(slug="bench-other", defaults={"name": "Other"})
    have = Contact.objects.for_workspace(workspace).count()
    if have >= total:
        if not Contact.objects.for_workspace(workspace).filter(metadata__has_key="city").exists():
            sys.exit("The database was seeded by an older version of this bench: use --reset.")
        print(f"Database already has {have:,} contacts: not seeding.")
        return workspace, user
    Contact.objects.for_workspace(workspace).delete()
    groups = [
        ContactGroup.objects.get_or_create(workspace=workspace, name=f"Group {i + 1:02d}")[0]
        for i in range(GROUPS)
    ]
    started = time.perf_counter()
    first = "ARRAY[" + ",".join(f"'{n}'" for n in FIRST) + "]"
    last = "ARRAY[" + ",".join(f"'{n}'" for n in LAST) + "]"
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")  # random but the same data on every machine
        cursor.execute(
            f"""
            INSERT INTO contacts_contact (workspace_id, first_name, last_name, email, phone,
                company, timezone, carrier, line_type, is_valid, status, opt_out_reason,
                opted_out_at, metadata, created_at, updated_at)
            SELECT ws, f, l,
                lower(f) || '.' || lower(l) || i || '@example.com',
                '+1' || (2012000000::bigint + i * 7)::text,
                'Company ' || (i %% 5000), 'America/New_York', '', 'mobile', true,
                CASE WHEN out THEN 'opted_out' ELSE 'active' END,
                CASE WHEN out THEN 'manual' ELSE '' END,
                CASE WHEN out THEN now() ELSE NULL END,
                jsonb_build_object(
                    'plan', (ARRAY['free','pro','team'])[1 + i %% 3],
                    'city', 'City ' || (i::bigint * 7919 %% 50),
                    'score', (i * 31 %% 101)::text,
                    'signup_date', to_char(date '2024-01-01' + (i * 13 %% 1000), 'YYYY-MM-DD')),
                now() - make_interval(secs => %s - i), now()
            FROM (
                SELECT i, ws, random() < 0.02 AS out,
                    ({first})[1 + floor(random() * {len(FIRST)})::int] AS f,
                    ({last})[1 + floor(random() * {len(LAST)})::int] AS l
                FROM generate_series(1, %s) AS i, (SELECT %s AS ws) AS w
            ) AS s
            """,
            [total, total, workspace.pk],
        )
        ids = [g.pk for g in groups]
        cursor.execute(
            """
            INSERT INTO contacts_groupmembership (group_id, contact_id, source, created_at)
            SELECT (%s::bigint[])[1 + floor(random() * %s)::int], id, 'import', now()
            FROM contacts_contact WHERE workspace_id = %s
            """,
            [ids, len(ids), workspace.pk],
        )
        cursor.execute(
            "INSERT INTO contacts_contact (workspace_id, first_name, last_name, email, phone, "
            "company, timezone, carrier, line_type, is_valid, status, opt_out_reason, metadata, "
            "created_at, updated_at) SELECT %s, 'Other', 'Person' || i, 'o' || i || '@ex.com', "
            "'', '', '', '', '', true, 'active', '', '{}', now(), now() "
            "FROM generate_series(1, 1000) AS i",
            [other.pk],
        )
    with connection.cursor() as cursor:  # outside the transaction: VACUUM cannot run in one
        cursor.execute("VACUUM ANALYZE")
    print(f"Seeded {total:,} contacts in {GROUPS} groups in {time.perf_counter() - started:.0f} s.")
    return workspace, user


def _backend_cpu() -> float:
    """CPU seconds used so far by this process's PostgreSQL backend (same machine: /proc)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(client, url: str, runs: int, **headers) -> tuple[float, float, float, float]:
    """Median and p95 ms, and CPU ms per page of this process and of its PostgreSQL backend
    (the test client runs the view here, on this process's one connection)."""
    for _ in range(3):  # warm caches and connections
        response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code)
    timings = []
    cpu, db_cpu = time.process_time(), _backend_cpu()
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, **headers)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    cpu = (time.process_time() - cpu) * 1000 / runs
    db_cpu = (_backend_cpu() - db_cpu) * 1000 / runs
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    return statistics.median(timings), p95, cpu, db_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--reset", action="store_true", help="Drop and re-seed the database.")
    parser.add_argument(
        "--only", choices=["list", "smart-groups"], help="Run one part (default: both)."
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/herald_bench_a"
    )
    parser.add_argument(
        "--match", help="Only the list cases whose label contains this text (e.g. 'sort=')."
    )
    args = parser.parse_args()
    ensure_database(args.database_url, args.reset)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only")
    os.environ.setdefault("HERALD_TESTING", "1")
    os.environ["DATABASE_CONN_MAX_AGE"] = "600"

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    # No setup_test_environment(): its template instrumentation would inflate render times.
    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    workspace, user = seed(args.contacts)

    from accounts.services import api_key_create
    from contacts.models import ContactGroup

    group = ContactGroup.objects.for_workspace(workspace).order_by("name")[7]
    client = Client()
    client.force_login(user)
    _, key = api_key_create(workspace=workspace, name="bench")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "contact-table"}
    cases = [
        ("list: first page", client, "/contacts/", {}),
        ("list: first page (htmx fragment)", client, "/contacts/", htmx),
        ("list: search by name 'smith'", client, "/contacts/?search=smith", htmx),
        ("list: search by full name 'mary smith'", client, "/contacts/?search=mary+smith", htmx),
        ("list: search by email prefix", client, "/contacts/?search=james.smith12", htmx),
        ("list: search by phone digits", client, "/contacts/?search=20120070", htmx),
        ("list: filter by group", client, f"/contacts/?group={group.pk}", htmx),
        ("list: opted out", client, "/contacts/?status=opted_out", htmx),
        ("list: active", client, "/contacts/?status=active", htmx),
        ("list: group + opted out", client, f"/contacts/?group={group.pk}&status=opted_out", htmx),
        ("list: group + active", client, f"/contacts/?group={group.pk}&status=active", htmx),
        *sort_cases(client, htmx),
        ("list: group, sort by name", client, f"/contacts/?group={group.pk}&sort=name", htmx),
        ("list: group, sort by name Z-A", client, f"/contacts/?group={group.pk}&sort=-name", htmx),
        (
            "list: group, sort by email p2",
            client,
            f"/contacts/?group={group.pk}&sort=email&page=2",
            htmx,
        ),
        ("list: group, sort by -status", client, f"/contacts/?group={group.pk}&sort=-status", htmx),
        ("list: active, sort by name", client, "/contacts/?status=active&sort=name", htmx),
        ("list: opted out, sort by name", client, "/contacts/?status=opted_out&sort=name", htmx),
        (
            "list: group + active, sort by phone",
            client,
            f"/contacts/?group={group.pk}&status=active&sort=-phone",
            htmx,
        ),
        ("list: deep page (page 2000)", client, "/contacts/?page=2000", htmx),
        ("list: group panel counts (lazy)", client, "/contacts/groups/panel/", {}),
        ("list: count for 'select all matching'", client, f"/contacts/count/?group={group.pk}", {}),
        ("api: GET /api/v1/contacts", api, "/api/v1/contacts", {}),
        ("api: search", api, "/api/v1/contacts?search=smith", {}),
        ("api: group_id", api, f"/api/v1/contacts?group_id={group.pk}", {}),
        ("api: deep offset 50000", api, "/api/v1/contacts?offset=50000", {}),
    ]
    # Other processes on the machine slow every figure: say how busy it was.
    print(f"\nLoad average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.only != "list":
        from audiences_cases import bench_smart_groups

        bench_smart_groups(workspace, api, args.runs)
    if args.match:
        cases = [case for case in cases if args.match in case[0]]
    if args.only != "smart-groups":
        measure_list(cases, args.runs)
    print(f"Load average after: {os.getloadavg()[0]:.1f}")


# Every sort the table offers (its column headers), both ways, on the first page, the next
# page and a deep one (page 2000: DeepPageLazyPaginator reads the ids, then the rows).
SORTS = ("name", "phone", "email", "status", "created_at")
SORT_PAGES = (1, 2, 2000)


def sort_cases(client, headers: dict) -> list:
    cases = []
    for sort in SORTS:
        for way in (sort, f"-{sort}"):
            for page in SORT_PAGES:
                url = f"/contacts/?sort={way}" + (f"&page={page}" if page > 1 else "")
                cases.append((f"list: sort={way} page {page}", client, url, headers))
    return cases


def measure_list(cases: list, runs: int) -> None:
    print(f"\n{'case':44} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7} {'PG CPU ms':>9}")
    worst = 0.0
    for label, who, url, headers in cases:
        try:
            median, p95, cpu, db_cpu = measure(who, url, runs, **headers)
        except AssertionError as exc:
            print(f"{label:44} failed: {exc}")
            continue
        worst = max(worst, median)
        flag = "" if median <= 150 else "  (over 150 ms)"
        print(f"{label:44} {median:10.1f} {p95:8.1f} {cpu:7.1f} {db_cpu:9.1f}{flag}", flush=True)
    print(f"\nSlowest median: {worst:.1f} ms (target <= 150 ms).")


if __name__ == "__main__":
    main()
