"""Smart groups at a million contacts (G3), run by bench/contacts_list.py.

Adds engagement to the seeded workspace once (tags, two campaigns' messages, replies), then
times, for five typical smart groups and a few more: the count (the selector the API's
`…/count` and the groups panel use) and the first page of members through the API. Then it
builds candidate indexes one at a time, measures the cases they could serve again and drops
them, so the figures say whether each index pays off.
"""

import os
import statistics
import time
from datetime import timedelta
from pathlib import Path

TAGS = {"vip": 0.10, "newsletter": 0.40, "churn-risk": 0.05, "wholesale": 0.02, "beta": 0.01}
TARGET_MS = 300

MESSAGES = """
INSERT INTO messaging_message (workspace_id, contact_id, channel, to_address, subject, body,
    html_body, send_after, status, skip_reason, attempts, last_error, error_code,
    provider_message_id, sent_at, delivered_at, created_at, updated_at)
SELECT workspace_id, id, 'sms', phone, '', 'Hi ' || first_name || ', your plan renews soon.',
    '', t, CASE WHEN ok THEN 'delivered' ELSE 'failed' END, '', 1, '', '', '', t,
    CASE WHEN ok THEN t + interval '5 seconds' END, t, t
FROM (
    SELECT c.*, now() - make_interval(days => %s) + make_interval(secs => c.id %% 7200) AS t,
        random() < 0.95 AS ok
    FROM contacts_contact c WHERE workspace_id = %s AND id %% 10 < %s
) AS s
"""
REPLIES = """
INSERT INTO messaging_inboundmessage (workspace_id, contact_id, from_address, to_address, body,
    provider_message_id, action, received_at)
SELECT workspace_id, id, phone, '+15550000000', 'Thanks!', 'SMbench' || id, '',
    now() - random() * interval '90 days'
FROM contacts_contact WHERE workspace_id = %s AND random() < 0.05
"""
# (name, SQL): candidate indexes and the cases they could serve.
INDEXES = [
    (
        "expression index (workspace, lower(metadata->>'city' COLLATE \"C\"))",
        "CREATE INDEX bench_city ON contacts_contact "
        "(workspace_id, lower((metadata ->> 'city') COLLATE \"C\"))",
        "bench_city",
        ("custom field: city = City 7 (2%)",),
    ),
    (
        "expression index (workspace, lower(metadata->>'plan' COLLATE \"C\"))",
        "CREATE INDEX bench_plan ON contacts_contact "
        "(workspace_id, lower((metadata ->> 'plan') COLLATE \"C\"))",
        "bench_plan",
        ("custom field: plan = pro (33%)",),
    ),
    (
        "messages (workspace, delivered_at, contact) where delivered",
        "CREATE INDEX bench_delivered ON messaging_message (workspace_id, delivered_at, "
        "contact_id) WHERE delivered_at IS NOT NULL",
        "bench_delivered",
        ("delivered in the last 7 days",),
    ),
    (
        "messages (workspace, sent_at, contact) where sent",
        "CREATE INDEX bench_sent ON messaging_message (workspace_id, sent_at, contact_id) "
        "WHERE sent_at IS NOT NULL",
        "bench_sent",
        ("not contacted in the last 30 days",),
    ),
]


def seed_engagement(workspace) -> None:
    """Tags, messages of two campaigns (everyone 60 days ago, 30% five days ago, 95%
    delivered) and replies from 5% of contacts over 90 days; once per database."""
    from django.db import connection

    from contacts.models import Tag

    if Tag.objects.for_workspace(workspace).exists():
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.17)")
        for name, share in TAGS.items():
            tag = Tag.objects.create(workspace=workspace, name=name)
            cursor.execute(
                "INSERT INTO contacts_contact_tags (contact_id, tag_id) SELECT id, %s "
                "FROM contacts_contact WHERE workspace_id = %s AND random() < %s",
                [tag.pk, workspace.pk, share],
            )
        for days_ago, tenths in ((60, 10), (5, 3)):
            cursor.execute(MESSAGES, [days_ago, workspace.pk, tenths])
        cursor.execute(REPLIES, [workspace.pk])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"Seeded tags, messages and replies in {time.perf_counter() - started:.0f} s.")


def c(field: str, op: str, value=None) -> dict:
    return {"field": field, "op": op, "value": value}


def cases(workspace) -> list[tuple[str, dict]]:
    from django.utils import timezone

    from contacts.models import ContactGroup

    groups = list(ContactGroup.objects.for_workspace(workspace).order_by("name"))
    today = timezone.now().date()
    return [
        ("custom field: plan = pro (33%)", {"conditions": [c("metadata.plan", "eq", "pro")]}),
        ("tag vip + active", {"conditions": [c("tag", "eq", "vip"), c("status", "eq", "active")]}),
        ("replied in the last 30 days", {"conditions": [c("replied", "within_days", 30)]}),
        (
            "created in a date range",
            {
                "conditions": [
                    c("created_at", "gte", str(today - timedelta(days=8))),
                    c("created_at", "lte", str(today - timedelta(days=5))),
                ]
            },
        ),
        ("all but two groups", {"exclude_group_ids": [groups[0].pk, groups[1].pk]}),
        ("custom field: city = City 7 (2%)", {"conditions": [c("metadata.city", "eq", "city 7")]}),
        ("custom number: score > 90", {"conditions": [c("metadata.score", "gt", 90)]}),
        (
            "custom date range: signed up in 2025",
            {
                "conditions": [
                    c("metadata.signup_date", "gte", "2025-01-01"),
                    c("metadata.signup_date", "lte", "2025-12-31"),
                ]
            },
        ),
        ("delivered in the last 7 days", {"conditions": [c("delivered", "within_days", 7)]}),
        (
            "not contacted in the last 30 days",
            {"conditions": [c("last_contacted_at", "not_within_days", 30)]},
        ),
        (
            "any: vip, or replied in 30 days",
            {
                "match": "any",
                "conditions": [c("tag", "eq", "vip"), c("replied", "within_days", 30)],
            },
        ),
        (
            "in group 3, not opted out, plan pro",
            {
                "conditions": [
                    c("group", "eq", groups[2].pk),
                    c("status", "neq", "opted_out"),
                    c("metadata.plan", "eq", "pro"),
                ]
            },
        ),
    ]


def timed(call, runs: int) -> tuple[float, float, float]:
    """Median and p95 wall milliseconds, and median CPU milliseconds of this process."""
    call()  # warm caches and plans
    walls, cpus = [], []
    for _ in range(runs):
        cpu, started = time.process_time(), time.perf_counter()
        call()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    walls.sort()
    p95 = walls[min(len(walls) - 1, round(0.95 * (len(walls) - 1)))]
    return statistics.median(walls), p95, statistics.median(cpus)


def backend_cpu_ms(call, runs: int) -> float:
    """Median CPU milliseconds PostgreSQL spends on `call`, counted on its backend with
    parallel workers off (their CPU is not visible here): the work a count costs, which
    compares across machines and loads better than the wall clock."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    stat = Path(f"/proc/{pid}/stat")
    ticks = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks * 1000

    try:
        call()
        samples = []
        for _ in range(max(3, runs // 3)):
            before = used()
            call()
            samples.append(used() - before)
    except OSError:  # PostgreSQL on another machine
        return float("nan")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET max_parallel_workers_per_gather")
    return statistics.median(samples)


def measure(workspace, api, saved: dict, runs: int, only=None) -> dict[str, tuple]:
    from audiences.definition import definition_parse
    from audiences.selectors import smart_group_count

    results = {}
    for label, definition in cases(workspace):
        if only is not None and label not in only:
            continue
        parsed = definition_parse(definition)
        matches = smart_group_count(workspace=workspace, definition=parsed)

        def counting(d=parsed):
            return smart_group_count(workspace=workspace, definition=d)

        count = timed(counting, runs)
        url = f"/api/v1/smart-groups/{saved[label]}/contacts?limit=25"
        page = timed(lambda u=url: _ok(api.get(u)), runs)
        results[label] = (matches, count, backend_cpu_ms(counting, runs), page)
    return results


def _ok(response) -> None:
    assert response.status_code == 200, response.status_code


def print_results(results: dict) -> float:
    header = f"{'matches':>9} {'count ms':>9} {'p95':>7} {'pg cpu':>7} {'page ms':>8} {'p95':>7}"
    print(f"\n{'smart group':40} {header}")
    worst = 0.0
    for label, (matches, count, cpu, page) in results.items():
        worst = max(worst, count[0])
        flag = "" if count[0] <= TARGET_MS else f"  (count over {TARGET_MS} ms)"
        print(
            f"{label:40} {matches:9,} {count[0]:9.1f} {count[1]:7.1f} {cpu:7.0f} "
            f"{page[0]:8.1f} {page[1]:7.1f}{flag}"
        )
    return worst


def bench_smart_groups(workspace, api, runs: int) -> None:
    from django.db import connection

    from audiences.models import SmartGroup
    from audiences.services import smart_group_create

    seed_engagement(workspace)
    SmartGroup.objects.for_workspace(workspace).delete()
    saved = {
        label: smart_group_create(workspace=workspace, name=label, definition=definition).pk
        for label, definition in cases(workspace)
    }
    print(
        "\nSmart groups: count (the selector; wall ms, and PostgreSQL's CPU ms for one count "
        "without parallel workers) and first page of members (API: 25 and the count up to "
        "10,000)"
    )
    worst = print_results(measure(workspace, api, saved, runs))
    print(f"Slowest count median: {worst:.1f} ms (target <= {TARGET_MS} ms).")
    print("\nCandidate indexes (built, measured, dropped):")
    for name, create, index, served in INDEXES:
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(create)
            built = time.perf_counter() - started
            cursor.execute(f"ANALYZE {create.split(' ON ')[1].split()[0]}")
            cursor.execute("SELECT pg_relation_size(%s)", [index])
            size = cursor.fetchone()[0] / 2**20
        print(f"\n+ {name}: built in {built:.1f} s, {size:.0f} MiB")
        try:
            print_results(measure(workspace, api, saved, runs, only=served))
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP INDEX {index}")
