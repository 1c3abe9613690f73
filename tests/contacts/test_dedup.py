"""contacts/dedup.py: the one duplicate rule of the import, the API upsert, the preview and the
contact form (phone first, then email, the oldest stored contact, in-batch memory)."""

import pytest
from django.core.files.base import ContentFile
from django.db import connection, transaction

from contacts import dedup
from contacts.importing import (
    import_job_confirm,
    import_job_create,
    import_job_preview,
    import_job_run,
    import_job_set_mapping,
)
from contacts.models import Contact
from contacts.upsert import group_contacts_upsert
from tests.factories import ContactFactory, ContactGroupFactory

PHONE_A, PHONE_B = "+14155550100", "+14155550101"


@pytest.fixture
def stored(workspace):
    """Contact `by_email` is older and shares the email; `by_phone` has the phone."""
    by_email = ContactFactory(workspace=workspace, phone="", email="x@example.com")
    by_phone = ContactFactory(workspace=workspace, phone=PHONE_A, email="other@example.com")
    return by_phone, by_email


def test_matcher_is_phone_first_then_email_and_remembers():
    matcher = dedup.Matcher(
        [
            dedup.Ref(1, PHONE_A, "a@x.com"),
            dedup.Ref(2, PHONE_A, "b@x.com"),
            dedup.Ref(3, "", "c@x.com"),
        ]
    )
    assert matcher.find(PHONE_A, "c@x.com").pk == 1  # phone first, the oldest
    assert matcher.find("", "c@x.com").pk == 3
    assert matcher.find(PHONE_B, "b@x.com").pk == 2
    assert matcher.find(PHONE_B, "") is None and matcher.find(None, None) is None
    matcher.remember("row 7", PHONE_B, "new@x.com")
    assert matcher.find(PHONE_B, "") == "row 7" and matcher.find("", "new@x.com") == "row 7"
    matcher.remember("row 9", PHONE_B, "")
    assert matcher.find(PHONE_B, "") == "row 7"  # the first one stays


@pytest.mark.parametrize("atomic", [False, True])
def test_probe_finds_by_phone_or_email_oldest_first_in_the_workspace(
    workspace, other_workspace, stored, atomic
):
    by_phone, by_email = stored
    ContactFactory(workspace=other_workspace, phone=PHONE_B, email="x@example.com")
    with transaction.atomic() if atomic else _nothing():  # the PostgreSQL probe and the ORM's
        refs = dedup.probe(workspace, phones=[PHONE_A, PHONE_B, ""], emails=["x@example.com"])
    assert [r.pk for r in refs] == [by_email.pk, by_phone.pk]
    assert dedup.probe(workspace) == []


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_merge_values_non_empty_wins_metadata_merges_tags_add_up():
    current = {"first_name": "Ada", "company": "X", "metadata": {"a": 1, "b": 2}, "tags": ["t"]}
    new = {"first_name": "", "company": "Y", "metadata": {"b": 3}, "tags": ["u"]}
    assert dedup.merge_values(current, new) == {
        "first_name": "Ada", "company": "Y", "metadata": {"a": 1, "b": 3}, "tags": ["t", "u"],
    }  # fmt: skip
    contact = Contact(first_name="Ada", company="X", metadata={"a": 1})
    dedup.contact_merge(contact, {"first_name": "", "company": "Y", "metadata": {"c": 4}})
    assert (contact.first_name, contact.company, contact.metadata) == ("Ada", "Y", {"a": 1, "c": 4})


def _import(workspace, text, strategy="skip"):
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(text.encode()), filename="p.csv"
    )
    import_job_set_mapping(job=job, mapping=None)
    import_job_confirm(job=job, group_name="G", duplicate_strategy=strategy, enqueue=False)
    return import_job_run(job_id=job.pk)


def test_every_caller_matches_the_phone_before_an_older_email(workspace, stored):
    """A row with the phone of one contact and the email of an older one is the phone's."""
    by_phone, by_email = stored
    # the contact form
    found = dedup.contact_duplicate(workspace=workspace, phone=PHONE_A, email="X@example.com")
    assert found == by_phone
    assert dedup.contact_duplicate(workspace=workspace, email="x@example.com") == by_email
    assert (
        dedup.contact_duplicate(workspace=workspace, phone=PHONE_A, exclude_id=by_phone.pk) is None
    )
    # the API upsert
    group = ContactGroupFactory(workspace=workspace)
    result = group_contacts_upsert(
        group=group, items=[{"phone": PHONE_A, "email": "x@example.com", "company": "API"}],
        duplicate_strategy="update",
    )  # fmt: skip
    assert result.contact_ids == [by_phone.pk]
    # the import writer
    job = _import(workspace, f"Phone,Email,Company\n{PHONE_A},x@example.com,File\n", "update")
    assert (job.updated, job.created) == (1, 0)
    by_phone.refresh_from_db()
    by_email.refresh_from_db()
    assert by_phone.company == "File" and by_email.company != "File"


def test_preview_marks_stored_matches_and_repeats_of_rows_above(workspace, stored):
    text = (
        "Name,Phone,Email\n"
        f"Stored,{PHONE_A},\n"
        f"New,{PHONE_B},n@example.com\n"
        "Repeat,,n@example.com\n"
        "Also stored,,x@example.com\n"
        "Fresh,,f@example.com\n"
    )
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(text.encode()), filename="p.csv"
    )
    _, rows = import_job_preview(job=import_job_set_mapping(job=job, mapping=None))
    assert [(r.number, r.match, r.repeats) for r in rows] == [
        (2, "existing", None), (3, "", None), (4, "repeat", 3), (5, "existing", None),
        (6, "", None),
    ]  # fmt: skip
    # and the import does what the preview said: two new contacts, three duplicates
    import_job_confirm(job=job, group_name="G", enqueue=False)
    job = import_job_run(job_id=job.pk)
    assert (job.created, job.duplicates) == (2, 3)


def test_preview_page_names_the_repeated_row(client_logged_in, workspace):
    text = b"Name,Phone\nAda,+14155550132\nAda again,(415) 555-0132\n"
    job = import_job_create(
        workspace=workspace, user=None, file=ContentFile(text), filename="a.csv"
    )
    import_job_set_mapping(job=job, mapping=None)
    page = client_logged_in.get(f"/contacts/import/{job.pk}/preview/").content.decode()
    assert "Repeats row 2" in page


def _probe_plan_indexes(workspace_id: int) -> set[str]:
    """The indexes the PostgreSQL probe's plan scans contacts by, as the import runs it."""
    sql, params = dedup.probe_pg_query(workspace_id, {PHONE_A, PHONE_B}, {"a@example.com"})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    found, nodes = set(), [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if node.get("Relation Name") == Contact._meta.db_table:
            found.add(node.get("Index Name", node["Node Type"]))
        nodes += node.get("Plans", [])
    return found


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plan is PostgreSQL's")
def test_pg_probe_keeps_the_key_indexes_for_a_workspace_the_statistics_do_not_know(
    workspace, other_workspace
):
    """Another tenant's contacts analysed, then this workspace's written after (autoanalyze
    has not seen them): given the workspace id itself the planner expected one contact and
    scanned contact_ws_name by workspace alone, filtering all its contacts for every key."""
    columns = (
        "workspace_id, first_name, last_name, email, phone, company, timezone, carrier, "
        "line_type, is_valid, status, opt_out_reason, metadata, created_at, updated_at"
    )
    rows = (
        "SELECT %s, 'F', 'L' || i, 'p' || i || '@example.com', '+1415' || (2000000 + i), '', '',"
        " '', '', true, 'active', '', '{}', now(), now() FROM generate_series(1, %s) AS i"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO contacts_contact ({columns}) {rows}", [other_workspace.pk, 5000]
        )
        cursor.execute("ANALYZE contacts_contact")
        cursor.execute(f"INSERT INTO contacts_contact ({columns}) {rows}", [workspace.pk, 2000])
    assert _probe_plan_indexes(workspace.pk) == {"contact_ws_phone", "contact_ws_email"}
