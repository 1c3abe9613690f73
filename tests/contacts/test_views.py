import csv
import io
import re

import pytest
from django.test import Client
from django.urls import reverse

from contacts.models import Contact, ContactEvent, ContactGroup, ExportJob, GroupMembership
from tests.factories import ContactFactory, ContactGroupFactory

XSS = '<script>alert("x")</script>'
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "contact-table"}
LIST = reverse("contacts:contact-list")


@pytest.fixture
def group(workspace):
    return ContactGroupFactory(workspace=workspace, name="Customers")


# --- list -----------------------------------------------------------------------------------


def test_list_full_page_and_htmx_fragment(client_logged_in, workspace, group):
    ContactFactory(workspace=workspace, first_name="Ada", last_name="Lovelace", in_groups=[group])
    page = client_logged_in.get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<html" in html and 'id="group-panel"' in html and "Lovelace" in html
    assert page["Vary"].count("HX-Request") == 1
    # Changing the group re-renders the page around the table; other filters only the table.
    assert 'name="group" hx-get="/contacts/" hx-include="closest form" hx-target="#main"' in html
    fragment = client_logged_in.get(LIST, {"search": "ada"}, **HTMX)
    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<html" not in body and body.strip().startswith('<div id="contact-table"')
    assert "Lovelace" in body
    assert 'name="query" value="search=ada"' in body


def test_list_search_and_filters(client_logged_in, workspace, group):
    ContactFactory(workspace=workspace, first_name="Ada", last_name="Zed", in_groups=[group])
    ContactFactory(workspace=workspace, first_name="Bob", last_name="Yak")
    html = client_logged_in.get(LIST, {"search": "ada"}, **HTMX).content.decode()
    assert "Zed" in html and "Yak" not in html
    html = client_logged_in.get(LIST, {"group": group.pk}).content.decode()
    assert "Zed" in html and "Yak" not in html and "Remove from this group" in html


@pytest.mark.parametrize("deep", [1000, 0])
def test_list_sorts_and_paginates_without_counting(client_logged_in, workspace, deep, monkeypatch):
    from contacts.tables import DeepPageLazyPaginator

    monkeypatch.setattr(DeepPageLazyPaginator, "deep", deep)  # 0: every page reads ids first
    for i in range(30):
        ContactFactory(workspace=workspace, first_name=f"N{i:02d}", last_name=f"L{i:02d}")
    html = client_logged_in.get(LIST, {"sort": "name"}, **HTMX).content.decode()
    assert html.index("L00") < html.index("L01")
    assert "L29" not in html  # 25 per page
    assert 'hx-get="?sort=name&amp;page=2"' in html and 'href="?sort=name&amp;page=2"' in html
    page2 = client_logged_in.get(LIST, {"sort": "name", "page": 2}, **HTMX).content.decode()
    assert "L29" in page2 and "L00" not in page2
    desc = client_logged_in.get(LIST, {"sort": "-name"}, **HTMX).content.decode()
    assert desc.index("L29") < desc.index("L28")


@pytest.mark.parametrize("sort", ["", "name", "-email"])
def test_a_deep_page_reads_its_ids_first(client_logged_in, workspace, monkeypatch, sort):
    """Past DeepPageLazyPaginator.deep rows, the OFFSET runs over the ids alone (an
    index-only scan at a million contacts) and then only the page's rows are read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from contacts.tables import DeepPageLazyPaginator

    monkeypatch.setattr(DeepPageLazyPaginator, "deep", 25)
    made = [ContactFactory(workspace=workspace, last_name=f"L{i:02d}") for i in range(30)]
    whole = client_logged_in.get(LIST, {"sort": sort, "per_page": 50}, **HTMX).content.decode()
    with CaptureQueriesContext(connection) as queries:
        page2 = client_logged_in.get(LIST, {"sort": sort, "page": 2}, **HTMX).content.decode()
    ids_only = re.compile(r'^SELECT "contacts_contact"\."id"( AS "pk")? FROM .* OFFSET 25$')
    assert any(ids_only.match(q["sql"]) for q in queries)
    rows = [int(pk) for pk in re.findall(r'name="ids" value="(\d+)"', page2)]
    assert rows == [int(pk) for pk in re.findall(r'name="ids" value="(\d+)"', whole)][25:]
    assert len(rows) == 5 and set(rows) <= {c.pk for c in made}


def test_list_empty_states(client_logged_in, workspace, group):
    html = client_logged_in.get(LIST).content.decode()
    assert "No contacts yet" in html and "Add your first contact" in html
    html = client_logged_in.get(LIST, {"group": group.pk}).content.decode()
    assert "This group has no contacts yet" in html


def test_group_panel_counts_members(client_logged_in, workspace, group, other_workspace):
    ContactFactory.create_batch(3, workspace=workspace, in_groups=[group])
    ContactGroupFactory(workspace=other_workspace, name="Secret group")
    html = client_logged_in.get(reverse("contacts:group-panel")).content.decode()
    assert "Customers" in html and '<span class="count">3</span>' in html
    assert "Secret group" not in html


def test_count_for_select_all_matching(client_logged_in, workspace, group):
    members = ContactFactory.create_batch(3, workspace=workspace, in_groups=[group])
    ContactFactory(workspace=workspace)
    response = client_logged_in.get(reverse("contacts:contact-count"), {"group": group.pk})
    assert response.content.decode().strip() == '<span id="match-count">3</span>'
    response = client_logged_in.get(reverse("contacts:contact-count"))
    assert response.content.decode().strip() == '<span id="match-count">4</span>'
    response = client_logged_in.get(
        reverse("contacts:contact-count"), {"group": group.pk, "search": members[0].email}
    )
    assert response.content.decode().strip() == '<span id="match-count">1</span>'


def test_xss_in_contact_values_is_escaped_in_list_and_detail(client_logged_in, workspace):
    contact = ContactFactory(
        workspace=workspace,
        first_name=XSS,
        company=XSS,
        metadata={XSS: XSS},
    )
    for url in (LIST, reverse("contacts:contact-detail", args=[contact.pk])):
        html = client_logged_in.get(url).content.decode()
        assert XSS not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    html = client_logged_in.get(reverse("contacts:contact-edit", args=[contact.pk])).content
    assert XSS.encode() not in html


def test_xss_export_is_a_csv_attachment(client_logged_in, workspace):
    ContactFactory(workspace=workspace, first_name=XSS, company="=cmd()")
    response = client_logged_in.get(reverse("contacts:contact-export"))
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0] == XSS and "'=cmd()" in rows[1]


# --- workspace isolation: another workspace's contact or group is a 404 everywhere -----------


@pytest.fixture
def foreign(other_workspace):
    group = ContactGroupFactory(workspace=other_workspace, name="Theirs")
    contact = ContactFactory(workspace=other_workspace, in_groups=[group])
    job = ExportJob.objects.create(workspace=other_workspace, status="completed")
    return contact, group, job


@pytest.mark.parametrize(
    ("method", "name", "kind"),
    [
        ("get", "contact-detail", "contact"),
        ("get", "contact-edit", "contact"),
        ("post", "contact-edit", "contact"),
        ("post", "contact-delete", "contact"),
        ("get", "contact-opt-out", "contact"),
        ("post", "contact-opt-out", "contact"),
        ("post", "contact-opt-in", "contact"),
        ("get", "group-detail", "group"),
        ("get", "group-edit", "group"),
        ("post", "group-edit", "group"),
        ("post", "group-delete", "group"),
        ("get", "export-detail", "job"),
        ("get", "export-download", "job"),
    ],
)
def test_foreign_objects_are_404(client_logged_in, foreign, method, name, kind):
    contact, group, job = foreign
    obj = {"contact": contact, "group": group, "job": job}[kind]
    url = reverse(f"contacts:{name}", args=[obj.pk])
    data = {"name": "Hijacked", "email": "x@example.com", "reason": "manual"}
    response = getattr(client_logged_in, method)(url, data if method == "post" else None)
    assert response.status_code == 404
    contact.refresh_from_db()
    group.refresh_from_db()
    assert contact.status == "active" and group.name == "Theirs"


@pytest.mark.parametrize("name", ["contact-list", "contact-count", "contact-export"])
def test_foreign_group_filter_is_404(client_logged_in, foreign, name):
    _, group, _ = foreign
    assert client_logged_in.get(reverse(f"contacts:{name}"), {"group": group.pk}).status_code == 404


def test_bulk_never_touches_foreign_contacts_or_groups(client_logged_in, workspace, foreign):
    contact, their_group, _ = foreign
    mine = ContactFactory(workspace=workspace)
    bulk = reverse("contacts:contact-bulk")
    client_logged_in.post(bulk, {"action": "delete", "ids": [contact.pk, mine.pk]})
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert not Contact.objects.filter(pk=mine.pk).exists()
    other = ContactFactory(workspace=workspace)
    response = client_logged_in.post(
        bulk, {"action": "copy", "ids": [other.pk], "target_group": their_group.pk}
    )
    assert response.status_code == 404
    assert not GroupMembership.objects.filter(contact=other).exists()
    response = client_logged_in.post(
        bulk, {"action": "delete", "select_all": "1", "query": f"group={their_group.pk}"}
    )
    assert response.status_code == 404


# --- bulk actions -----------------------------------------------------------------------------


def _bulk(client, **data):
    return client.post(reverse("contacts:contact-bulk"), data)


def test_bulk_move_copy_remove(client_logged_in, workspace, group):
    target = ContactGroupFactory(workspace=workspace, name="Target")
    a, b, c = ContactFactory.create_batch(3, workspace=workspace, in_groups=[group])
    response = _bulk(
        client_logged_in,
        action="move",
        ids=[a.pk, b.pk],
        target_group=target.pk,
        query=f"group={group.pk}",
    )
    assert response.status_code == 302 and response["Location"] == f"{LIST}?group={group.pk}"
    assert set(target.contacts.all()) == {a, b} and list(group.contacts.all()) == [c]
    _bulk(client_logged_in, action="copy", ids=[c.pk], target_group=target.pk)
    assert set(c.groups.all()) == {group, target}
    _bulk(client_logged_in, action="remove_from_group", ids=[c.pk], query=f"group={group.pk}")
    assert list(c.groups.all()) == [target] and Contact.objects.filter(pk=c.pk).exists()


def test_bulk_move_needs_a_group_open(client_logged_in, workspace, group):
    contact = ContactFactory(workspace=workspace, in_groups=[group])
    response = _bulk(client_logged_in, action="move", ids=[contact.pk], target_group=group.pk)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("Open a group first" in m for m in messages)


def test_bulk_tags_and_opt_out(client_logged_in, workspace, user):
    a, b = ContactFactory.create_batch(2, workspace=workspace)
    _bulk(client_logged_in, action="add_tag", ids=[a.pk, b.pk], tag="vip")
    assert a.tags.filter(name="vip").exists() and b.tags.filter(name="vip").exists()
    _bulk(client_logged_in, action="remove_tag", ids=[a.pk], tag="vip")
    assert not a.tags.exists()
    _bulk(client_logged_in, action="opt_out", ids=[a.pk])
    a.refresh_from_db()
    assert (a.status, a.opt_out_reason) == ("opted_out", "manual")
    assert ContactEvent.objects.get(contact=a, kind="opted_out").actor == user


def test_bulk_select_all_matching_spans_pages(client_logged_in, workspace, group):
    members = ContactFactory.create_batch(30, workspace=workspace, in_groups=[group])
    outsider = ContactFactory(workspace=workspace)
    _bulk(
        client_logged_in,
        action="add_tag",
        tag="all",
        select_all="1",
        query=f"group={group.pk}",
        ids=[members[0].pk],
    )
    tagged = set(Contact.objects.filter(tags__name="all"))
    assert tagged == set(members) and outsider not in tagged


def test_bulk_export_of_selection(client_logged_in, workspace):
    a, b, c = ContactFactory.create_batch(3, workspace=workspace)
    response = _bulk(client_logged_in, action="export", ids=[a.pk, c.pk])
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    emails = {row[2] for row in list(csv.reader(io.StringIO(text)))[1:]}
    assert emails == {a.email, c.email}


def test_large_export_becomes_a_background_job(client_logged_in, workspace, settings):
    settings.HERALD_EXPORT_SYNC_LIMIT = 2
    settings.CELERY_TASK_ALWAYS_EAGER = True
    ContactFactory.create_batch(3, workspace=workspace)
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("django.db.transaction.on_commit", lambda fn, *a, **k: fn())
            response = client_logged_in.post(reverse("contacts:contact-export"))
    finally:
        app.conf.task_always_eager = False
    job = ExportJob.objects.get(workspace=workspace)
    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:export-detail", args=[job.pk])
    assert job.status == "completed" and job.row_count == 3
    page = client_logged_in.get(response["Location"]).content.decode()
    assert "Download CSV" in page
    download = client_logged_in.get(reverse("contacts:export-download", args=[job.pk]))
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).decode("utf-8-sig").count("\n") == 4


def test_bulk_with_nothing_selected_says_so(client_logged_in, workspace):
    response = _bulk(client_logged_in, action="delete")
    assert response.status_code == 302
    assert "Select at least one contact" in str(list(response.wsgi_request._messages)[0])


# --- deleting: owners vs members (W3) -------------------------------------------------------


def test_member_may_delete_when_the_workspace_allows(member_client, workspace):
    contact = ContactFactory(workspace=workspace)
    response = member_client.post(reverse("contacts:contact-delete", args=[contact.pk]))
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_member_may_not_delete_when_the_workspace_forbids(member_client, workspace):
    workspace.members_can_delete = False
    workspace.save()
    contact = ContactFactory(workspace=workspace)
    assert (
        member_client.post(reverse("contacts:contact-delete", args=[contact.pk])).status_code == 403
    )
    assert _bulk(member_client, action="delete", ids=[contact.pk]).status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()
    html = member_client.get(LIST).content.decode()
    assert 'value="delete"' not in html


def test_owner_may_delete_when_members_may_not(client_logged_in, workspace):
    workspace.members_can_delete = False
    workspace.save()
    contact = ContactFactory(workspace=workspace)
    assert _bulk(client_logged_in, action="delete", ids=[contact.pk]).status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()


def test_delete_all_needs_typed_slug_and_a_manager(client_logged_in, member_client, workspace):
    ContactFactory.create_batch(3, workspace=workspace)
    url = reverse("contacts:contact-delete-all")
    assert member_client.post(url, {"confirm": "acme"}).status_code == 403
    client_logged_in.post(url, {"confirm": "Acme"})
    assert Contact.objects.count() == 3
    response = client_logged_in.post(url, {"confirm": "acme"})
    assert response.status_code == 302
    assert Contact.objects.count() == 0


def test_delete_all_runs_in_background_for_big_lists(
    client_logged_in, workspace, settings, monkeypatch
):
    settings.HERALD_EXPORT_SYNC_LIMIT = 1
    queued = []
    monkeypatch.setattr(
        "contacts.views.listing.contacts_delete_all_task.delay_on_commit",
        lambda pk: queued.append(pk),
    )
    ContactFactory.create_batch(2, workspace=workspace)
    client_logged_in.post(reverse("contacts:contact-delete-all"), {"confirm": "acme"})
    assert queued == [workspace.pk] and Contact.objects.count() == 2
    from contacts.tasks import contacts_delete_all_task

    contacts_delete_all_task(workspace.pk)
    assert Contact.objects.count() == 0


def test_settings_page_shows_danger_zone(client_logged_in):
    html = client_logged_in.get(reverse("accounts:workspace-settings")).content.decode()
    assert "Delete all contacts" in html and "Type <code>acme</code> to confirm" in html


# --- CSRF on htmx and plain POSTs -------------------------------------------------------------


def test_posts_need_the_csrf_token(user, workspace):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    contact = ContactFactory(workspace=workspace)
    url = reverse("contacts:contact-opt-out", args=[contact.pk])
    assert client.post(url, {"reason": "manual"}, HTTP_HX_REQUEST="true").status_code == 403
    page = client.get(LIST)
    token = page.cookies["csrftoken"].value
    html = page.content.decode()
    assert "X-CSRFToken" in html  # htmx sends it from <body hx-headers>
    response = client.post(
        url, {"reason": "manual"}, HTTP_X_CSRFTOKEN=token, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.is_opted_out


# --- single contact ---------------------------------------------------------------------------


def test_create_contact_with_metadata_tags_and_group(client_logged_in, workspace, group):
    response = client_logged_in.post(
        reverse("contacts:contact-create"),
        {
            "first_name": "Ada",
            "phone": "415 555 0134",
            "email": "ADA@example.com",
            "tags": "vip, new",
            "groups": [group.pk],
            "meta_key": ["plan", "appointment_date", ""],
            "meta_value": ["pro", "2026-03-01", ""],
        },
    )
    contact = Contact.objects.get(workspace=workspace)
    assert response["Location"] == reverse("contacts:contact-detail", args=[contact.pk])
    assert contact.phone == "+14155550134" and contact.email == "ada@example.com"
    assert contact.metadata == {"plan": "pro", "appointment_date": "2026-03-01"}
    assert list(contact.groups.all()) == [group]
    assert contact.memberships.get().source == "manual"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"phone": "12"}, "phone"),
        ({"email": "not-an-email"}, "not a valid email"),
        ({"first_name": "Nobody"}, "Give a phone number or an email address"),
        ({"email": "a@example.com", "meta_key": ["", "x"], "meta_value": ["v", "1"]}, "a name"),
        ({"email": "a@example.com", "meta_key": ["x", "x"], "meta_value": ["1", "2"]}, "twice"),
    ],
)
def test_create_contact_shows_errors_inline(client_logged_in, workspace, data, message):
    response = client_logged_in.post(reverse("contacts:contact-create"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Contact.objects.exists()


def test_create_contact_refuses_a_duplicate(client_logged_in, workspace):
    existing = ContactFactory(workspace=workspace, phone="+14155550134")
    response = client_logged_in.post(reverse("contacts:contact-create"), {"phone": "4155550134"})
    html = response.content.decode()
    assert "already has this phone or email" in html
    assert reverse("contacts:contact-detail", args=[existing.pk]) in html
    assert Contact.objects.count() == 1


def test_edit_contact_changes_fields_groups_and_metadata(client_logged_in, workspace, group):
    other = ContactGroupFactory(workspace=workspace, name="Other")
    contact = ContactFactory(workspace=workspace, in_groups=[group], metadata={"old": "1"})
    response = client_logged_in.post(
        reverse("contacts:contact-edit", args=[contact.pk]),
        {
            "first_name": "New",
            "phone": contact.phone,
            "email": contact.email,
            "groups": [other.pk],
            "meta_key": ["plan"],
            "meta_value": ["pro"],
        },
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.first_name == "New" and contact.metadata == {"plan": "pro"}
    assert list(contact.groups.all()) == [other]


def test_edit_form_is_prefilled(client_logged_in, workspace):
    contact = ContactFactory(workspace=workspace, first_name="Prefilled", metadata={"plan": "pro"})
    html = client_logged_in.get(reverse("contacts:contact-edit", args=[contact.pk])).content
    assert b'value="Prefilled"' in html and b'value="plan"' in html and b'value="pro"' in html


def test_detail_shows_fields_groups_status_and_events(client_logged_in, workspace, group, user):
    contact = ContactFactory(workspace=workspace, in_groups=[group], metadata={"plan": "gold"})
    url = reverse("contacts:contact-opt-out", args=[contact.pk])
    confirm = client_logged_in.get(url)
    assert "Opt out" in confirm.content.decode()
    client_logged_in.post(url, {"reason": "complaint", "note": "called us"})
    html = client_logged_in.get(reverse("contacts:contact-detail", args=[contact.pk])).content
    html = html.decode()
    for text in (contact.phone, "gold", "Customers", "Added manually", "Spam complaint"):
        assert text in html
    assert "called us" in html and 'id="activity"' in html
    client_logged_in.post(reverse("contacts:contact-opt-in", args=[contact.pk]))
    contact.refresh_from_db()
    assert contact.status == "active"
    assert ContactEvent.objects.filter(contact=contact, kind="opted_in", actor=user).exists()


# --- groups -----------------------------------------------------------------------------------


def test_group_create_edit_delete(client_logged_in, workspace):
    response = client_logged_in.post(reverse("contacts:group-create"), {"name": "Leads"})
    group = ContactGroup.objects.get(workspace=workspace, name="Leads")
    assert response["Location"] == f"{LIST}?group={group.pk}"
    duplicate = client_logged_in.post(reverse("contacts:group-create"), {"name": "leads"})
    assert "already exists" in duplicate.content.decode()
    client_logged_in.post(reverse("contacts:group-edit", args=[group.pk]), {"name": "Hot leads"})
    group.refresh_from_db()
    assert group.name == "Hot leads"
    contact = ContactFactory(workspace=workspace, in_groups=[group])
    client_logged_in.post(reverse("contacts:group-delete", args=[group.pk]))
    assert not ContactGroup.objects.filter(pk=group.pk).exists()
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_group_detail_redirects_to_the_filtered_list(client_logged_in, group):
    response = client_logged_in.get(reverse("contacts:group-detail", args=[group.pk]))
    assert response["Location"] == f"{LIST}?group={group.pk}"


def test_anonymous_is_sent_to_login():
    response = Client().get(LIST)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_bulk_over_all_matching_runs_in_background_when_large(
    client_logged_in, workspace, group, user, settings, monkeypatch
):
    from contacts.tasks import contacts_batch_task

    settings.HERALD_EXPORT_SYNC_LIMIT = 2
    monkeypatch.setattr(
        "contacts.views.listing.contacts_batch_task.delay_on_commit",
        lambda *args: queued.append(args),
    )
    queued = []
    members = ContactFactory.create_batch(3, workspace=workspace, in_groups=[group])
    response = _bulk(client_logged_in, action="opt_out", select_all="1", query=f"group={group.pk}")
    assert "in the background" in str(list(response.wsgi_request._messages)[0])
    assert not Contact.objects.filter(status="opted_out").exists()
    assert queued == [
        (workspace.pk, "opt_out", {"group": str(group.pk)}, group.pk, None, "", user.pk)
    ]
    contacts_batch_task(*queued[0])
    contacts_batch_task(*queued[0])  # redelivered: no second opt-out event
    assert set(Contact.objects.filter(status="opted_out")) == set(members)
    assert ContactEvent.objects.filter(kind="opted_out").count() == 3


def test_bulk_checks_the_request_before_any_work(client_logged_in, workspace):
    contact = ContactFactory(workspace=workspace)
    for data, text in [
        ({"action": "add_tag", "tag": " "}, "Type the tag"),
        ({"action": "copy"}, "Choose the group"),
        ({"action": "explode"}, "Choose an action"),
    ]:
        response = _bulk(client_logged_in, ids=[contact.pk], **data)
        assert text in str(list(response.wsgi_request._messages)[-1])
    assert not contact.tags.exists() and not contact.groups.exists()


def test_create_contact_refuses_a_group_of_another_workspace(client_logged_in, foreign):
    _, their_group, _ = foreign
    response = client_logged_in.post(
        reverse("contacts:contact-create"), {"email": "new@example.com", "groups": [their_group.pk]}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Contact.objects.filter(email="new@example.com").exists()
    assert their_group.memberships.count() == 1
