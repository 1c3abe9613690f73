"""The smart-group pages: list, editor (full page and htmx fragments), save, delete, freeze;
isolation, CSRF and escaping."""

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from audiences.editor import Row, condition_of, read_post
from audiences.models import SmartGroup
from audiences.services import smart_group_create
from campaigns.models import Campaign
from contacts.models import ContactGroup, GroupMembership
from tests.campaigns.helpers import make_campaign
from tests.factories import ContactFactory, ContactGroupFactory

NEW = "audiences:smartgroup-new"
PRO = {"conditions": [{"field": "metadata.plan", "op": "eq", "value": "pro"}]}


def _htmx(target: str) -> dict:
    return {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": target}


def _rows(*rows: tuple[str, str, str], **extra) -> dict:
    data = {"name": "Pros", "match": "all"} | extra
    for i, (field, op, value) in enumerate(rows):
        data |= {f"field-{i}": field, f"op-{i}": op, f"value-{i}": value}
    return data


@pytest.fixture
def people(workspace):
    vip = ContactGroupFactory(workspace=workspace, name="VIP")
    ann = ContactFactory(
        workspace=workspace, first_name="<b>Ann</b>", metadata={"plan": "pro", "seats": 12}
    )
    bob = ContactFactory(
        workspace=workspace, first_name="Bob", metadata={"plan": "pro", "seats": 3}
    )
    ContactFactory(workspace=workspace, first_name="Cy", metadata={"plan": "free"})
    GroupMembership.objects.create(group=vip, contact=bob)
    return {"vip": vip, "ann": ann, "bob": bob}


def _query(data: dict) -> QueryDict:
    query = QueryDict(mutable=True)
    query.update(data)
    return query


def _query_lists(data: dict) -> QueryDict:
    """`data` as a POST whose list values are repeated keys, as a multiple select posts."""
    query = QueryDict(mutable=True)
    for key, value in data.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    return query


def test_read_post_joins_the_values_a_multiple_select_posts():
    query = _query_lists(_rows(("group", "in", ""), ("status", "not_in", "")))
    query.setlist("value-0", ["3", " 4 "])
    query.setlist("value-1", ["opted_out"])
    assert read_post(query).definition["conditions"] == [
        {"field": "group", "op": "in", "value": [3, 4]},
        {"field": "status", "op": "not_in", "value": ["opted_out"]},
    ]


def test_read_post_gives_each_value_the_type_its_field_takes():
    posted = read_post(
        _query(
            _rows(
                ("metadata.seats", "gt", "10"),
                ("metadata.renewal", "lt", "2026-01-31"),
                ("group", "in", "3, 4"),
                ("replied", "within_days", "30"),
                ("tag", "in", "vip, gold"),
                ("email", "set", "stale"),
                ("metadata.code", "eq", "007a"),
            )
        )
    )
    assert posted.definition["conditions"] == [
        {"field": "metadata.seats", "op": "gt", "value": 10.0},
        {"field": "metadata.renewal", "op": "lt", "value": "2026-01-31"},
        {"field": "group", "op": "in", "value": [3, 4]},
        {"field": "replied", "op": "within_days", "value": 30},
        {"field": "tag", "op": "in", "value": ["vip", "gold"]},
        {"field": "email", "op": "set"},
        {"field": "metadata.code", "op": "eq", "value": "007a"},
    ]
    # A field changed in the editor keeps the operator only if it has it.
    assert read_post(_query(_rows(("created_at", "contains", "x")))).rows[0].op == "eq"
    assert condition_of(Row("replied", "within_days", "soon")) == {
        "field": "replied",
        "op": "within_days",
        "value": "soon",
    }


def test_editor_offers_the_workspaces_custom_fields_and_tags(client_logged_in, people, workspace):
    gold = ContactGroupFactory(workspace=workspace, name="<i>Gold</i>")
    data = _rows(("group", "eq", str(people["vip"].pk)), ("group", "in", "x"))
    data["value-1"] = [str(people["vip"].pk), str(gold.pk)]  # a list's select posts each one
    editor_html = client_logged_in.post(
        reverse(NEW), data, **_htmx("smart-editor")
    ).content.decode()
    assert editor_html.count(f'<option value="{people["vip"].pk}" selected>VIP</option>') == 2
    # "is any of" a group picks groups by name from a select of several, not ids as text.
    assert 'name="value-1" multiple' in editor_html
    assert f'<option value="{gold.pk}" selected>&lt;i&gt;Gold&lt;/i&gt;</option>' in editor_html
    assert "group id" not in editor_html
    page = client_logged_in.get(reverse(NEW)).content.decode()
    assert '<option value="metadata.seats"' in page and '<option value="metadata.plan"' in page
    assert 'name="field-0"' in page  # one empty row to start from
    assert "hx-post" in page and 'name="csrfmiddlewaretoken"' in page


def test_live_preview_counts_three_conditions_and_escapes_names(client_logged_in, people):
    data = _rows(
        ("metadata.plan", "eq", "pro"),
        ("metadata.seats", "gte", "2"),
        ("status", "eq", "active"),
    )
    response = client_logged_in.post(reverse(NEW), data, **_htmx("smart-preview"))
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert '<strong id="smart-count">2</strong> contacts match now' in html
    assert "&lt;b&gt;Ann&lt;/b&gt;" in html and "<b>Ann</b>" not in html
    narrower = data | {"field-3": "group", "op-3": "not_in", "value-3": str(people["vip"].pk)}
    response = client_logged_in.post(reverse(NEW), narrower, **_htmx("smart-preview"))
    assert '<strong id="smart-count">1</strong> contact match now' in response.content.decode()
    assert not SmartGroup.objects.exists()  # previews save nothing


def test_a_row_without_its_value_is_left_out_of_the_count(client_logged_in, people):
    data = _rows(("metadata.plan", "eq", "pro"), ("tag", "eq", ""))
    html = client_logged_in.post(reverse(NEW), data, **_htmx("smart-preview")).content.decode()
    assert '<strong id="smart-count">2</strong>' in html
    assert "1 condition without a value not counted" in html


def test_add_and_remove_rows_rerender_the_editor(client_logged_in, people):
    data = _rows(("metadata.plan", "eq", "pro"), ("tag", "eq", "gold"))
    added = client_logged_in.post(reverse(NEW), data | {"action": "add"}, **_htmx("smart-editor"))
    html = added.content.decode()
    assert 'id="smart-editor"' in html and 'name="field-2"' in html
    removed = client_logged_in.post(
        reverse(NEW), data | {"action": "remove", "remove": "0"}, **_htmx("smart-editor")
    ).content.decode()
    assert 'name="field-1"' not in removed and 'value="gold"' in removed


def test_save_creates_and_a_bad_value_is_shown_beside_its_row(client_logged_in, people, workspace):
    bad = _rows(("metadata.plan", "eq", "pro"), ("replied", "within_days", "soon"))
    refused = client_logged_in.post(reverse(NEW), bad | {"action": "save"})
    html = refused.content.decode()
    assert refused.status_code == 200 and "Give a whole number of days" in html
    assert not SmartGroup.objects.exists()

    good = _rows(("metadata.plan", "eq", "pro"), ("replied", "within_days", "30"), match="any")
    saved = client_logged_in.post(reverse(NEW), good | {"action": "save"})
    smart_group = SmartGroup.objects.get()
    assert saved.url == reverse("audiences:smartgroup-edit", args=[smart_group.pk])
    assert smart_group.match == "any"
    assert smart_group.conditions[1] == {"field": "replied", "op": "within_days", "value": 30}
    edit = client_logged_in.get(saved.url).content.decode()
    assert 'value="30"' in edit and 'value="Pros"' in edit
    listed = client_logged_in.get(reverse("audiences:smartgroup-list")).content.decode()
    count_url = reverse("audiences:smartgroup-count", args=[smart_group.pk])
    assert "Pros" in listed and f'hx-get="{count_url}"' in listed and 'contacts">…</a>' in listed
    cell = client_logged_in.get(count_url, HTTP_HX_REQUEST="true").content.decode()
    assert 'title="Open these contacts">2</a>' in cell and "<html" not in cell


def test_another_workspaces_smart_group_is_not_found(client_logged_in, other_workspace):
    theirs = smart_group_create(workspace=other_workspace, name="Theirs", definition=PRO)
    for name, method in (
        ("audiences:smartgroup-edit", "get"),
        ("audiences:smartgroup-edit", "post"),
        ("audiences:smartgroup-count", "get"),
        ("audiences:smartgroup-delete", "post"),
        ("audiences:smartgroup-freeze", "post"),
    ):
        response = getattr(client_logged_in, method)(reverse(name, args=[theirs.pk]), {"name": "x"})
        assert response.status_code == 404, name
    assert SmartGroup.objects.filter(pk=theirs.pk).exists()
    assert (
        "Theirs" not in client_logged_in.get(reverse("audiences:smartgroup-list")).content.decode()
    )


def test_posts_need_the_csrf_token(user, workspace):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    smart_group = smart_group_create(workspace=workspace, name="Pros", definition=PRO)
    assert client.post(reverse(NEW), _rows(("tag", "eq", "x"))).status_code == 403
    url = reverse("audiences:smartgroup-delete", args=[smart_group.pk])
    assert client.post(url).status_code == 403
    assert SmartGroup.objects.exists()


def test_freeze_makes_a_group_of_the_matches_and_opens_it(client_logged_in, people, workspace):
    smart_group = smart_group_create(workspace=workspace, name="Pros", definition=PRO)
    url = reverse("audiences:smartgroup-freeze", args=[smart_group.pk])
    response = client_logged_in.post(url, {"name": "Pros in May"})
    group = ContactGroup.objects.get(name="Pros in May")
    assert response.url == reverse("contacts:contact-list") + f"?group={group.pk}"
    assert set(group.memberships.values_list("contact_id", flat=True)) == {
        people["ann"].pk,
        people["bob"].pk,
    }
    again = client_logged_in.post(url, {"name": "Pros in May"}, follow=True)
    assert "Cannot save as a group" in again.content.decode()


def test_delete_keeps_the_campaigns_that_targeted_it(client_logged_in, workspace):
    smart_group = smart_group_create(workspace=workspace, name="Pros", definition=PRO)
    campaign = make_campaign(workspace, None, smart_group=smart_group)
    response = client_logged_in.post(reverse("audiences:smartgroup-delete", args=[smart_group.pk]))
    assert response.url == reverse("audiences:smartgroup-list")
    assert not SmartGroup.objects.exists()
    assert Campaign.objects.get(pk=campaign.pk).smart_group is None


def test_a_tampered_field_and_too_many_rows_are_refused_by_name(client_logged_in, people):
    unknown = _rows(("metadata.plan", "eq", "pro"), ("password", "eq", "x"))
    html = client_logged_in.post(reverse(NEW), unknown | {"action": "save"}).content.decode()
    assert "Unknown field “password”" in html
    many = _rows(*[("metadata.plan", "eq", f"p{i}") for i in range(55)])
    html = client_logged_in.post(reverse(NEW), many | {"action": "save"}).content.decode()
    assert "at most 50 conditions" in html
    preview = client_logged_in.post(reverse(NEW), many, **_htmx("smart-preview"))
    assert "Fix the conditions" in preview.content.decode()
    assert not SmartGroup.objects.exists()


def test_a_custom_field_compared_as_a_number_skips_text_values(client_logged_in, people):
    """plan holds text ("pro"): as a number it matches no one, and never errors."""
    data = _rows(("metadata.plan", "gt", "5"))
    html = client_logged_in.post(reverse(NEW), data, **_htmx("smart-preview")).content.decode()
    assert '<strong id="smart-count">0</strong>' in html
    data = _rows(("metadata.missing", "not_set", ""))
    html = client_logged_in.post(reverse(NEW), data, **_htmx("smart-preview")).content.decode()
    assert '<strong id="smart-count">3</strong>' in html


def test_the_contacts_list_batch_operations_and_exports_filter_by_a_smart_group(
    client_logged_in, people, workspace, other_workspace
):
    from contacts.export import export_job_create, export_job_queryset
    from contacts.selectors import contact_list

    smart_group = smart_group_create(workspace=workspace, name="Pros", definition=PRO)
    theirs = smart_group_create(workspace=other_workspace, name="Theirs", definition=PRO)
    listed = client_logged_in.get(reverse("contacts:contact-list"), {"smart_group": smart_group.pk})
    html = listed.content.decode()
    assert "&lt;b&gt;Ann&lt;/b&gt;" in html and "Bob" in html and "Cy" not in html
    assert f'name="smart_group" value="{smart_group.pk}"' in html  # kept as other filters change

    def matching(smart_group_id) -> set[int]:
        filters = {"smart_group": str(smart_group_id)}
        return set(contact_list(workspace=workspace, filters=filters).values_list("pk", flat=True))

    assert matching(smart_group.pk) == {people["ann"].pk, people["bob"].pk}
    assert matching(theirs.pk) == set() and matching(2**70) == set()
    job = export_job_create(
        workspace=workspace, filters={"smart_group": str(smart_group.pk)}, contact_ids=None
    )
    assert export_job_queryset(job).count() == 2


def test_deleting_a_smart_group_a_campaign_still_sends_to_asks_first(
    client_logged_in, api_client, workspace
):
    smart_group = smart_group_create(workspace=workspace, name="Pros", definition=PRO)
    campaign = make_campaign(
        workspace, None, name="Renewals <soon>", smart_group=smart_group, state="scheduled"
    )
    url = reverse("audiences:smartgroup-delete", args=[smart_group.pk])
    asked = client_logged_in.post(url)
    html = asked.content.decode()
    assert asked.status_code == 200 and "Campaign “Renewals &lt;soon&gt;” (scheduled)" in html
    api_url = f"/api/v1/smart-groups/{smart_group.pk}"
    refused = api_client.delete(api_url)
    assert refused.status_code == 409
    assert refused.json()["errors"]["campaigns"] == ["Campaign “Renewals <soon>” (scheduled)"]
    assert SmartGroup.objects.filter(pk=smart_group.pk).exists()

    confirmed = client_logged_in.post(url, {"confirm": "yes"})
    assert confirmed.url == reverse("audiences:smartgroup-list")
    assert not SmartGroup.objects.exists()
    assert Campaign.objects.get(pk=campaign.pk).smart_group is None
    again = smart_group_create(workspace=workspace, name="Again", definition=PRO)
    make_campaign(workspace, None, name="Other", smart_group=again, state="running")
    assert api_client.delete(f"/api/v1/smart-groups/{again.pk}?force=true").status_code == 204


def test_the_group_panel_lists_smart_groups_with_their_counts(
    client_logged_in, people, workspace, other_workspace
):
    smart_group = smart_group_create(workspace=workspace, name="Pros <3", definition=PRO)
    theirs = smart_group_create(workspace=other_workspace, name="Theirs", definition=PRO)
    page = client_logged_in.get(reverse("contacts:contact-list"), {"smart_group": smart_group.pk})
    html = page.content.decode()
    assert "Pros &lt;3" in html and "Theirs" not in html
    assert f"smart_group={smart_group.pk}" in html
    count_url = reverse("audiences:smartgroup-count", args=[smart_group.pk]) + "?in=panel"
    assert count_url not in html  # the page's first panel has no counts; its lazy load has
    panel = client_logged_in.get(
        reverse("contacts:group-panel"), {"current": "", "smart_group": smart_group.pk}
    ).content.decode()
    assert 'aria-current="page"' in panel and "<span>Pros &lt;3</span>" in panel
    # Each smart group's count comes after the panel, one request each (a count can take a
    # second at a million contacts).
    assert f'hx-get="{count_url}"' in panel
    cell = client_logged_in.get(count_url, HTTP_HX_REQUEST="true")
    assert cell.content.decode().strip() == '<span class="count">2</span>'
    other = reverse("audiences:smartgroup-count", args=[theirs.pk]) + "?in=panel"
    assert client_logged_in.get(other, HTTP_HX_REQUEST="true").status_code == 404
