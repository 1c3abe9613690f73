"""Benchmark: the inbox with 100,000 conversations on PostgreSQL (V2 "must stay fast").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/herald_bench .venv/bin/python \
        bench/inbox_bench.py [--conversations 100000] [--repeat 20]

It fills one workspace with --conversations contacts and threads (a tenth needing a person,
some unread, a few assigned), then times each inbox read as the page does it: the first page
of every view, page 200 through the keyset cursor, the unread filter, a contact search and
the sidebar's count; median and max ms of --repeat runs each, and the plan's index.

Then the pages themselves, as a browser gets them (Django's test client through every
middleware, the sidebar's count and the template included, no network): the inbox of each
view, page 200, a search, the htmx refresh of the list and a thread of 40 turns, p50/p95/max
ms and CPU ms per page of this process and of PostgreSQL. Target: p95 <= 1.5 s.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is written to).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
    os.environ.update(
        HERALD_HTTPS="0",
        DJANGO_ALLOWED_HOSTS="testserver",
        HERALD_LOG_LEVEL="ERROR",
        DATABASE_CONN_MAX_AGE="600",  # one backend for the whole run: its CPU is measured
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Membership, Workspace
    from contacts.models import Contact
    from conversations.models import Conversation
    from conversations.selectors import (
        InboxFilters,
        conversation_list,
        conversation_queryset,
        needs_human_count,
    )
    from tests.factories import UserFactory

    call_command("migrate", verbosity=0)
    Workspace.objects.filter(slug="inbox-bench").delete()
    workspace = Workspace.objects.create(name="Inbox bench", slug="inbox-bench")
    user = UserFactory(username=f"inbox-bench-{int(time.time())}")
    Membership.objects.create(user=user, workspace=workspace, role="owner")
    started = time.perf_counter()
    now = timezone.now()
    batch = 5000
    for start in range(0, args.conversations, batch):
        size = min(batch, args.conversations - start)
        contacts = Contact.objects.bulk_create(
            Contact(
                workspace=workspace,
                first_name=f"Name{start + i}",
                phone=f"+1415{start + i:07d}",
            )
            for i in range(size)
        )
        Conversation.objects.bulk_create(
            Conversation(
                workspace=workspace,
                contact=c,
                status=("human" if n % 10 == 0 else "closed" if n % 10 == 1 else "agent"),
                unread=n % 7 == 0,
                assignee=user if n % 50 == 0 else None,
                preview="Yes, Friday works for me",
                last_activity_at=now - timedelta(seconds=n),
            )
            for n, c in ((start + i, c) for i, c in enumerate(contacts))
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_conversation")
        cursor.execute("ANALYZE contacts_contact")
    print(f"{args.conversations} conversations written in {time.perf_counter() - started:.0f} s")

    def timed(label, read):
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            read()
            times.append((time.perf_counter() - began) * 1000)
        print(f"  {label:<34} median {statistics.median(times):7.2f} ms  max {max(times):7.2f}")

    def page(view="all", cursor="", **more):
        filters = InboxFilters(view=view, **more)
        return conversation_list(workspace=workspace, filters=filters, user=user, cursor=cursor)

    for view in ("human", "agent", "mine", "unassigned", "closed", "all"):
        timed(f"first page, {view}", lambda view=view: page(view))
    cursor = ""
    for _ in range(199):
        cursor = page("all", cursor).next_cursor
    timed("page 200 of all (keyset)", lambda: page("all", cursor))
    timed("unread, needs a human", lambda: page("human", unread=True))
    timed("search 'Name9999'", lambda: page("all", q="Name9999"))
    timed("sidebar count needing a person", lambda: needs_human_count(workspace=workspace))
    qs = conversation_queryset(workspace=workspace, filters=InboxFilters(view="human"), user=user)
    plan = qs.order_by("-last_activity_at", "-id")[:51].explain()
    print("  plan of 'needs a human':", " | ".join(line.strip() for line in plan.splitlines()[:3]))
    pages(args, workspace, user, cursor)
    Workspace.objects.filter(pk=workspace.pk).delete()


def pages(args, workspace, user, cursor: str) -> None:
    """The inbox pages through the whole Django stack: p50/p95/max and CPU per page."""
    from urllib.parse import quote

    from django.db import connection
    from django.test import Client
    from loadgen import cpu_seconds

    from conversations import threads
    from conversations.models import Conversation

    with connection.cursor() as pg:
        pg.execute("SELECT pg_backend_pid()")
        backend = [pg.fetchone()[0]]  # this process's own PostgreSQL backend

    thread = Conversation.objects.filter(workspace=workspace).order_by("-last_activity_at").first()
    for n in range(40):
        threads.turn_append(
            conversation=thread,
            direction="in" if n % 2 else "out",
            author="contact" if n % 2 else "agent",
            body=f"Turn {n}: could we move it to Friday afternoon instead, around three?",
        )
    client = Client()
    client.force_login(user)
    print(f"pages ({args.repeat} each; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    for label, url, headers in (
        ("inbox, needs a human", "/conversations/?view=human", {}),
        ("inbox, all", "/conversations/?view=all", {}),
        ("inbox, unread needing a human", "/conversations/?view=human&unread=1", {}),
        ("inbox, page 200 of all", f"/conversations/?view=all&after={quote(cursor)}", {}),
        ("inbox, search 'Name99999'", "/conversations/?view=all&q=Name99999", {}),
        ("list refresh (htmx)", "/conversations/?view=all", {"HTTP_HX_REQUEST": "true"}),
        ("thread of 40 turns", f"/conversations/{thread.pk}/", {}),
    ):
        assert client.get(url, **headers).status_code == 200, url  # warm
        times = []
        cpu, cpu_db = time.process_time(), cpu_seconds(backend)
        for _ in range(args.repeat):
            began = time.perf_counter()
            response = client.get(url, **headers)
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        cpu = (time.process_time() - cpu) * 1000 / args.repeat
        cpu_db = (cpu_seconds(backend) - cpu_db) * 1000 / args.repeat
        times.sort()
        p95 = times[min(int(len(times) * 0.95), len(times) - 1)]
        print(
            f"  {label:<32} p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f}  "
            f"max {times[-1]:7.1f}  cpu {cpu:6.1f} ms + postgres {cpu_db:6.1f}  "
            f"{'ok' if p95 <= 1500 else 'OVER 1.5 s'}"
        )


if __name__ == "__main__":
    main()
