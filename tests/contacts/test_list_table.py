"""The contacts table (issue 14 §5): sorting, rows per page, and batch actions that come back
to the same list with the same contacts selected."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils.timezone import now

from contacts.batch import plural
from contacts.models import Contact
from core.collation import fold
from tests.factories import ContactFactory, ContactGroupFactory

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "contact-table"}
LIST = reverse("contacts:contact-list")
BULK = reverse("contacts:contact-bulk")
ROW = re.compile(r'name="ids" value="(\d+)"[^>]*?(checked)?>')


def _names(html: str) -> list[str]:
    return re.findall(r'<td class="col-name"><a href="[^"]+">([^<]*)</a>', html)


def _rows(html: str) -> list[int]:
    return [int(pk) for pk, _ in ROW.findall(html)]


def _checked(html: str) -> set[int]:
    return {int(pk) for pk, checked in ROW.findall(html) if checked}


@pytest.fixture
def people(workspace):
    """Names in an order the C collation gets wrong: lower case, accents, missing parts."""
    rows = [("Zoe", "adams"), ("Al", "Brown"), ("Cher", ""), ("Ed", "Eaton"), ("Eve", "émond")]
    made = [ContactFactory(workspace=workspace, first_name=f, last_name=n) for f, n in rows]
    made.append(ContactFactory(workspace=workspace, first_name="", last_name=""))
    return made


def test_fold_ignores_case_and_accents():
    assert fold("Émond") == fold("emond") == "emond"
    assert fold("Ærø") == "ærø"  # no decomposition: kept, only case-folded


def test_name_sort_ignores_case_and_accents_and_puts_no_name_last(client_logged_in, people):
    html = client_logged_in.get(LIST, {"sort": "name"}, **HTMX).content.decode()
    assert _names(html) == ["Zoe adams", "Al Brown", "Cher", "Ed Eaton", "Eve émond", "(no name)"]
    html = client_logged_in.get(LIST, {"sort": "-name"}, **HTMX).content.decode()
    assert _names(html) == ["Eve émond", "Ed Eaton", "Cher", "Al Brown", "Zoe adams", "(no name)"]
    assert 'aria-sort="descending"' in html


@pytest.mark.parametrize("column", ["phone", "email"])
def test_empty_values_sort_last_both_ways(client_logged_in, workspace, column):
    blank = ContactFactory(workspace=workspace, **{column: ""})
    others = ContactFactory.create_batch(3, workspace=workspace)
    for sort in (column, f"-{column}"):
        rows = _rows(client_logged_in.get(LIST, {"sort": sort}, **HTMX).content.decode())
        assert rows[-1] == blank.pk and set(rows[:-1]) == {c.pk for c in others}


def test_status_sort_keeps_list_order_within_a_status(client_logged_in, workspace):
    old, new = (
        ContactFactory(workspace=workspace, created_at=now() - timedelta(days=d)) for d in (2, 1)
    )
    out = ContactFactory(workspace=workspace, status="opted_out", opt_out_reason="manual")
    asc = _rows(client_logged_in.get(LIST, {"sort": "status"}, **HTMX).content.decode())
    desc = _rows(client_logged_in.get(LIST, {"sort": "-status"}, **HTMX).content.decode())
    assert asc == [new.pk, old.pk, out.pk] and desc == [out.pk, new.pk, old.pk]


@pytest.mark.parametrize("sort", ["name", "-name", "status", "-created_at", "email"])
def test_equal_values_never_repeat_or_skip_a_row_across_pages(client_logged_in, workspace, sort):
    when = now()
    for _ in range(30):  # the same name, status and time: only the tie-break orders them
        ContactFactory(
            workspace=workspace, first_name="Sam", last_name="Lee", created_at=when, email=""
        )
    pages = [
        _rows(client_logged_in.get(LIST, {"sort": sort, "page": n}, **HTMX).content.decode())
        for n in (1, 2)
    ]
    assert len(pages[0]) == 25 and len(pages[1]) == 5
    assert set(pages[0]) | set(pages[1]) == set(Contact.objects.values_list("pk", flat=True))


def _reference_order(contacts: list[Contact], sort: str) -> list[int]:
    """The order each sort promises, in Python: missing values last both ways, names by
    their folded text (ICU on PostgreSQL, core.collation on SQLite), ties by the id."""
    column, desc = sort.lstrip("-"), sort.startswith("-")
    sign = -1 if desc else 1

    def flip(text: str) -> tuple:  # a text key that sorts the other way when descending
        return tuple(sign * ord(c) for c in text) + (sign * -1,)  # shorter first ascending

    def key(c: Contact):
        if column == "name":
            surname = c.last_name or c.first_name
            empty = not (c.first_name or c.last_name)
            return (empty, flip(fold(surname)), flip(fold(c.first_name)), sign * c.pk)
        if column in ("phone", "email"):
            value = getattr(c, column)
            return (value == "", flip(value), c.pk)
        if column == "status":
            return (flip(c.status), -c.created_at.timestamp(), -c.pk)
        return (sign * c.created_at.timestamp(), sign * c.pk)

    return [c.pk for c in sorted(contacts, key=key)]


@pytest.mark.parametrize("sort", ["name", "phone", "email", "status", "created_at"])
def test_every_sort_gives_the_same_order_on_every_database(client_logged_in, workspace, sort):
    """Run on PostgreSQL and on SQLite alike: both give the order _reference_order spells
    out (punctuation, case, accents, a first name alone, missing values, equal keys)."""
    when = now()
    rows = [  # first, last, email, phone, status, days old
        ("Zoe", "adams", "zoe@example.com", "+14155550109", "active", 3),
        ("Al", "Brown", "al.brown@example.com", "", "active", 1),
        ("Cher", "", "", "+14155550101", "active", 2),
        ("Ed", "Eaton", "ed@example.com", "+14155550100", "opted_out", 5),
        ("Eve", "émond", "eve@example.org", "+442071838750", "active", 1),
        ("Ann", "O'Brien", "ann-o@example.com", "+14155550199", "active", 4),
        ("Bob", "Obama", "bob@example.com", "", "opted_out", 2),
        ("", "", "x@example.com", "+33142685300", "active", 6),
        ("", "", "", "+14155550150", "active", 6),
        ("Sam", "Lee", "sam1@example.com", "+14155550160", "active", 0),
        ("Sam", "Lee", "sam2@example.com", "+14155550161", "active", 0),
        ("sam", "lee-ross", "Sam3@example.com", "+14155550162", "opted_out", 0),
    ]
    made = [
        ContactFactory(
            workspace=workspace, first_name=f, last_name=n, email=e, phone=p, status=s,
            opt_out_reason="manual" if s == "opted_out" else "",
            created_at=when - timedelta(days=d),
        )
        for f, n, e, p, s, d in rows
    ]  # fmt: skip
    for way in (sort, f"-{sort}"):
        html = client_logged_in.get(LIST, {"sort": way}, **HTMX).content.decode()
        assert _rows(html) == _reference_order(made, way), way


@pytest.mark.parametrize("sort", ["workspace", "metadata", "-company", "pk", "name;drop"])
def test_sort_by_anything_else_is_the_list_order(client_logged_in, workspace, sort):
    first = ContactFactory(workspace=workspace, created_at=now() - timedelta(days=1))
    second = ContactFactory(workspace=workspace)
    response = client_logged_in.get(LIST, {"sort": sort}, **HTMX)
    assert response.status_code == 200
    assert _rows(response.content.decode()) == [second.pk, first.pk]


def test_sort_links_keep_filters_group_and_rows_per_page(client_logged_in, workspace):
    group = ContactGroupFactory(workspace=workspace)
    ContactFactory(workspace=workspace, first_name="Ada", in_groups=[group])
    params = {"group": group.pk, "search": "ada", "per_page": 50, "page": 3}
    html = client_logged_in.get(LIST, params, **HTMX).content.decode()
    link = re.search(r'<a href="(\?[^"]*sort=name[^"]*)" hx-get', html).group(1)
    assert (
        link.replace("&amp;", "&") == f"?group={group.pk}&search=ada&per_page=50&page=1&sort=name"
    )


def test_rows_per_page_is_a_filter_form_field_with_250(client_logged_in, workspace):
    ContactFactory.create_batch(30, workspace=workspace)
    html = client_logged_in.get(LIST, {"per_page": 250, "sort": "-name"}).content.decode()
    assert len(_rows(html)) == 30
    # It submits with the filters (which never repeat a parameter), from page 1, sort kept.
    assert 'name="per_page" form="contact-filters"' in html
    assert '<option value="250" selected>' in html
    assert '<input type="hidden" name="sort" value="-name" form="contact-filters">' in html
    for bad in ("1000", "x", "-25"):
        page = client_logged_in.get(LIST, {"per_page": bad}).content.decode()
        assert len(_rows(page)) == 25 and '<option value="25" selected>' in page


def _post(client, **data):
    return client.post(BULK, data)


def test_bulk_action_comes_back_to_the_same_list_with_the_same_contacts_selected(
    client_logged_in, workspace
):
    group = ContactGroupFactory(workspace=workspace)
    contacts = ContactFactory.create_batch(4, workspace=workspace, in_groups=[group])
    chosen = [contacts[0].pk, contacts[2].pk]
    response = _post(
        client_logged_in,
        action="add_tag",
        tag="vip",
        ids=chosen,
        query=f"group={group.pk}",
        view="sort=-name&per_page=50&page=1",
    )
    assert response["Location"] == f"{LIST}?group={group.pk}&sort=-name&per_page=50&page=1"
    html = client_logged_in.get(response["Location"]).content.decode()
    assert "Tag “vip” added to 2 contacts." in html
    assert _checked(html) == set(chosen) and len(_rows(html)) == 4
    # Once: reloading the page starts with nothing selected.
    assert _checked(client_logged_in.get(response["Location"]).content.decode()) == set()


def test_rows_leaving_the_page_go_back_to_page_one(client_logged_in, workspace):
    contact = ContactFactory(workspace=workspace)
    response = _post(client_logged_in, action="delete", ids=[contact.pk], view="sort=name&page=4")
    assert response["Location"] == f"{LIST}?sort=name"
    html = client_logged_in.get(response["Location"]).content.decode()
    assert "1 contact deleted." in html


def test_a_refused_action_keeps_the_selection_and_what_was_chosen(client_logged_in, workspace):
    group = ContactGroupFactory(workspace=workspace, name="Target")
    a, b = ContactFactory.create_batch(2, workspace=workspace)
    response = _post(client_logged_in, action="add_tag", tag="  ", ids=[a.pk], view="sort=email")
    assert response["Location"] == f"{LIST}?sort=email"
    html = client_logged_in.get(response["Location"]).content.decode()
    assert "Type the tag to add or remove." in html
    assert _checked(html) == {a.pk}
    assert '<option value="add_tag" selected>' in html
    assert not a.tags.exists()
    # A move without a group open: the target stays chosen too.
    _post(client_logged_in, action="move", target_group=group.pk, ids=[b.pk])
    html = client_logged_in.get(LIST).content.decode()
    assert _checked(html) == {b.pk}
    assert f'<option value="{group.pk}" selected>Target</option>' in html


def test_all_matching_stays_selected_while_it_means_the_same_contacts(client_logged_in, workspace):
    group = ContactGroupFactory(workspace=workspace)
    members = ContactFactory.create_batch(3, workspace=workspace, in_groups=[group])
    query = f"group={group.pk}"
    _post(client_logged_in, action="add_tag", tag="x", select_all="1", query=query)
    html = client_logged_in.get(f"{LIST}?{query}").content.decode()
    assert 'name="select_all" value="1"' in html and _checked(html) == {c.pk for c in members}
    assert 'hx-trigger="load"' in html  # the banner loads how many "all matching" is
    # Opting out "all active" changes who is active: the same people stay selected by id.
    query = f"group={group.pk}&status=active"
    _post(client_logged_in, action="opt_out", select_all="1", query=query)
    html = client_logged_in.get(f"{LIST}?group={group.pk}").content.decode()
    assert 'name="select_all" value="0"' in html and _checked(html) == {c.pk for c in members}


def test_kept_selection_is_only_for_its_own_workspace(client_logged_in, workspace):
    contact = ContactFactory(workspace=workspace)
    session = client_logged_in.session
    session["contacts:selection"] = {"workspace": 0, "ids": [contact.pk], "all": True, "form": {}}
    session.save()
    html = client_logged_in.get(LIST).content.decode()
    assert _checked(html) == set() and 'name="select_all" value="0"' in html


def test_foreign_ids_are_never_kept_selected(client_logged_in, workspace, other_workspace):
    mine = ContactFactory(workspace=workspace)
    theirs = ContactFactory(workspace=other_workspace)
    _post(client_logged_in, action="add_tag", tag="t", ids=[mine.pk, theirs.pk])
    assert client_logged_in.session["contacts:selection"]["ids"] == [mine.pk]
    assert not theirs.tags.exists()


def test_counts_have_thousands_separators():
    assert plural(1234) == "1,234 contacts" and plural(1) == "1 contact"
