"""The contacts table's sorts walk an index on PostgreSQL (C5: a sorted page at a million
contacts in <= 150 ms; reading and sorting every matching row took 1.2-3.4 s).

Each sort's ORDER BY (contacts/tables.py) must be exactly the expressions of an index of
contacts/migrations/0008_sort_indexes.py: change one without the other and its page sorts
every contact again. The plans are read with sorting disabled, so they show whether an index
can give the order at all (on a few rows the planner would rightly sort them instead); the
bench (bench/contacts_list.py) shows the planner choosing them at a million.
"""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.models import Contact, GroupMembership
from tests.factories import ContactFactory, ContactGroupFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the plans are PostgreSQL's"
)

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "contact-table"}
LIST = reverse("contacts:contact-list")
TABLE = Contact._meta.db_table

SORT_INDEXES = {
    "name": "contact_ws_sort_name",
    "-name": "contact_ws_sort_name_desc",
    "phone": "contact_ws_sort_phone",
    "-phone": "contact_ws_sort_phone_desc",
    "email": "contact_ws_sort_email",
    "-email": "contact_ws_sort_email_desc",
    "status": "contact_ws_sort_status",
    "-status": "contact_ws_sort_status_desc",
    "created_at": "contact_ws_created",
    "-created_at": "contact_ws_created",
}


def _page_query(client, params: dict) -> str:
    """The SQL of the list's page of contacts (the one query with ORDER BY ... LIMIT)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST, params, **HTMX).status_code == 200
    pages = [
        q["sql"]
        for q in queries
        if f'FROM "{TABLE}"' in q["sql"] and " ORDER BY " in q["sql"] and " LIMIT " in q["sql"]
    ]
    assert len(pages) == 1, pages
    return pages[0]


def _plan_nodes(sql: str) -> list[dict]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_incremental_sort = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    found, nodes = [], [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        found.append(node)
        nodes += node.get("Plans", [])
    return found


def _sorted_by(sql: str) -> tuple[set[str], set[str]]:
    """(the indexes contacts are scanned by, the plan's sort nodes)."""
    nodes = _plan_nodes(sql)
    indexes = {
        n.get("Index Name", n["Node Type"]) for n in nodes if n.get("Relation Name") == TABLE
    }
    sorts = {n["Node Type"] for n in nodes if "Sort" in n["Node Type"]}
    return indexes, sorts


@pytest.fixture
def contacts(workspace, other_workspace):
    group = ContactGroupFactory(workspace=workspace, name="G")
    made = [
        ContactFactory(workspace=workspace, first_name=f, last_name=n, email=e, phone=p)
        for f, n, e, p in [
            ("Zoe", "adams", "zoe@example.com", "+14155550101"),
            ("Cher", "", "", "+14155550102"),
            ("", "", "nobody@example.com", ""),
        ]
    ]
    ContactFactory(workspace=workspace, status="opted_out", opt_out_reason="manual")
    ContactFactory(workspace=other_workspace)
    for contact in made:
        GroupMembership.objects.create(group=group, contact=contact)
    return group


@pytest.mark.parametrize("sort", list(SORT_INDEXES))
def test_each_sort_walks_its_index(client_logged_in, contacts, sort):
    indexes, sorts = _sorted_by(_page_query(client_logged_in, {"sort": sort}))
    assert (indexes, sorts) == ({SORT_INDEXES[sort]}, set())


@pytest.mark.parametrize("sort", ["name", "-name", "-email", "-status"])
@pytest.mark.parametrize("filters", ["group", "status", "group+status"])
def test_a_filtered_sort_walks_its_index(client_logged_in, contacts, sort, filters):
    params = {"sort": sort}
    if "group" in filters:
        params["group"] = contacts.pk
    if "status" in filters:
        params["status"] = "opted_out"
    indexes, sorts = _sorted_by(_page_query(client_logged_in, params))
    # Under status=opted_out the status sorts are the list order, which any status index
    # (or contact_ws_inactive) gives: the planner picks one of them.
    status_indexes = {
        "contact_ws_sort_status",
        "contact_ws_sort_status_desc",
        "contact_ws_inactive",
    }
    fits = status_indexes if "status" in sort and "status" in filters else {SORT_INDEXES[sort]}
    assert indexes & fits and not sorts
