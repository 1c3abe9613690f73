import pytest
from django.core.exceptions import ValidationError

from contacts import groups, services
from contacts.filters import ContactFilter
from contacts.models import Contact, ContactEvent, GroupMembership, Tag
from tests.factories import ContactFactory, ContactGroupFactory


def _create(workspace, **data):
    return services.contact_create(workspace=workspace, data=data)


# --- clean_contact_data / contact_create -------------------------------------------------


def test_contact_create_normalises_phone_and_derives_phone_data(workspace):
    contact = _create(
        workspace, first_name=" Ada ", phone="(415) 555-0134", email="ADA@Example.COM"
    )
    assert contact.phone == "+14155550134"
    assert contact.email == "ada@example.com"
    assert contact.first_name == "Ada"
    assert contact.timezone == "America/Los_Angeles"
    assert contact.line_type
    assert ContactEvent.objects.filter(contact=contact, kind="created").count() == 1


def test_contact_create_keeps_a_given_timezone(workspace):
    contact = _create(workspace, phone="+14155550134", timezone="Europe/Paris")
    assert contact.timezone == "Europe/Paris"


def test_contact_create_reads_national_numbers_in_the_workspace_region(workspace):
    workspace.default_region = "FR"
    workspace.save()
    contact = _create(workspace, phone="06 12 34 56 78")
    assert contact.phone == "+33612345678"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": "not a number"}, "phone"),
        ({"email": "nobody@"}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"first_name": "Ann"}, "__all__"),
        ({"email": "a@example.com", "timezone": "Mars/Olympus"}, "timezone"),
        ({"email": "a@example.com", "first_name": "x" * 101}, "first_name"),
        ({"email": "a@example.com", "metadata": ["not", "a", "dict"]}, "metadata"),
    ],
)
def test_contact_create_rejects_bad_input_with_the_field_named(workspace, data, field):
    with pytest.raises(ValidationError) as exc:
        _create(workspace, **data)
    assert field in exc.value.message_dict
    assert not Contact.objects.exists()


def test_contact_create_sets_tags_and_groups(workspace):
    group = ContactGroupFactory(workspace=workspace)
    contact = services.contact_create(
        workspace=workspace,
        data={"email": "t@example.com", "tags": "vip, trial , vip", "metadata": {" plan ": "pro"}},
        groups=[group],
        source="api",
    )
    assert sorted(t.name for t in contact.tags.all()) == ["trial", "vip"]
    assert contact.metadata == {"plan": "pro"}
    assert GroupMembership.objects.get(contact=contact, group=group).source == "api"


# --- contact_update -----------------------------------------------------------------------


def test_contact_update_changes_only_given_fields(workspace):
    contact = _create(workspace, first_name="Ann", phone="+14155550134", email="a@example.com")
    services.contact_update(contact=contact, data={"last_name": "Lee", "workspace": 99})
    contact.refresh_from_db()
    assert (contact.first_name, contact.last_name, contact.workspace_id) == (
        "Ann",
        "Lee",
        workspace.pk,
    )


def test_contact_update_may_not_remove_the_last_contact_method(workspace):
    contact = _create(workspace, phone="+14155550134")
    with pytest.raises(ValidationError) as exc:
        services.contact_update(contact=contact, data={"phone": ""})
    assert "__all__" in exc.value.message_dict
    contact.refresh_from_db()
    assert contact.phone == "+14155550134"


def test_contact_update_removing_phone_clears_derived_data(workspace):
    contact = _create(workspace, phone="+14155550134", email="a@example.com")
    assert contact.line_type
    services.contact_update(contact=contact, data={"phone": ""})
    contact.refresh_from_db()
    assert (contact.phone, contact.carrier, contact.line_type) == ("", "", "")


# --- opt out / in -------------------------------------------------------------------------


def test_contact_opt_out_and_back_in_are_logged(workspace, user):
    contact = ContactFactory(workspace=workspace)
    assert services.contact_opt_out(contact=contact, reason="manual", actor=user, detail="asked")
    assert contact.status == "opted_out" and contact.opt_out_reason == "manual"
    assert contact.opted_out_at is not None
    assert not services.contact_opt_out(contact=contact, reason="complaint")
    assert services.contact_opt_in(contact=contact, actor=user)
    assert (contact.status, contact.opt_out_reason, contact.opted_out_at) == ("active", "", None)
    kinds = list(ContactEvent.objects.filter(contact=contact).values_list("kind", "reason"))
    assert sorted(kinds) == [("opted_in", ""), ("opted_out", "manual")]


def test_contact_opt_out_rejects_unknown_reason(workspace):
    contact = ContactFactory(workspace=workspace)
    with pytest.raises(ValidationError):
        services.contact_opt_out(contact=contact, reason="bored")


def test_contacts_opt_out_logs_only_contacts_it_changed(workspace, other_workspace):
    active = ContactFactory(workspace=workspace)
    already = ContactFactory(workspace=workspace)
    services.contact_opt_out(contact=already, reason="message")
    foreign = ContactFactory(workspace=other_workspace)
    changed = services.contacts_opt_out(
        workspace=workspace, contact_ids=[active.pk, already.pk, foreign.pk], reason="manual"
    )
    assert changed == 1
    assert ContactEvent.objects.filter(kind="opted_out", reason="manual").count() == 1
    foreign.refresh_from_db()
    already.refresh_from_db()
    assert foreign.status == "active"
    assert already.opt_out_reason == "message"


def test_contacts_opt_out_rejects_unknown_reason(workspace):
    contact = ContactFactory(workspace=workspace)
    with pytest.raises(ValidationError):
        services.contacts_opt_out(workspace=workspace, contact_ids=[contact.pk], reason="x")
    contact.refresh_from_db()
    assert contact.status == "active"


# --- delete ---------------------------------------------------------------------------------


def test_contacts_delete_ignores_other_workspaces(workspace, other_workspace):
    mine = ContactFactory(workspace=workspace)
    foreign = ContactFactory(workspace=other_workspace)
    assert services.contacts_delete(workspace=workspace, contact_ids=[mine.pk, foreign.pk]) == 1
    assert list(Contact.objects.values_list("pk", flat=True)) == [foreign.pk]


def test_contacts_delete_works_in_chunks(workspace, monkeypatch):
    monkeypatch.setattr(services, "CHUNK", 2)
    contacts = ContactFactory.create_batch(5, workspace=workspace)
    assert services.contacts_delete(workspace=workspace, contact_ids=[c.pk for c in contacts]) == 5


def test_contacts_delete_all_empties_only_this_workspace(workspace, other_workspace, monkeypatch):
    monkeypatch.setattr(services, "CHUNK", 2)
    group = ContactGroupFactory(workspace=workspace)
    ContactFactory.create_batch(7, workspace=workspace, in_groups=[group])
    foreign = ContactFactory(workspace=other_workspace)
    assert services.contacts_delete_all(workspace=workspace) == 7
    assert services.contacts_delete_all(workspace=workspace) == 0
    assert list(Contact.objects.values_list("pk", flat=True)) == [foreign.pk]
    assert not GroupMembership.objects.filter(group=group).exists()


# --- tags -----------------------------------------------------------------------------------


def test_contacts_add_and_remove_tag(workspace, other_workspace):
    a, b = ContactFactory.create_batch(2, workspace=workspace)
    foreign = ContactFactory(workspace=other_workspace)
    ids = [a.pk, b.pk, foreign.pk]
    assert services.contacts_add_tag(workspace=workspace, contact_ids=ids, name=" vip ") == 2
    services.contacts_add_tag(workspace=workspace, contact_ids=ids, name="vip")  # no duplicate
    assert Contact.tags.through.objects.count() == 2
    assert not foreign.tags.exists()
    assert services.contacts_remove_tag(workspace=workspace, contact_ids=[a.pk], name="vip") == 1
    assert list(b.tags.values_list("name", flat=True)) == ["vip"]
    assert services.contacts_remove_tag(workspace=workspace, contact_ids=[a.pk], name="nope") == 0


def test_contacts_add_tag_needs_a_name(workspace):
    with pytest.raises(ValidationError):
        services.contacts_add_tag(workspace=workspace, contact_ids=[], name="  ")
    assert not Tag.objects.exists()


# --- filters --------------------------------------------------------------------------------


def _ids(workspace, **data):
    return set(ContactFilter(data, workspace=workspace).qs.values_list("pk", flat=True))


def test_filter_search_by_words_phone_and_email(workspace, other_workspace):
    ada = ContactFactory(
        workspace=workspace, first_name="Ada", last_name="Lovelace", phone="+14155550101"
    )
    bob = ContactFactory(workspace=workspace, first_name="Bob", last_name="Ada-Smith", email="")
    ContactFactory(workspace=other_workspace, first_name="Ada")
    assert _ids(workspace, search="ada") == {ada.pk, bob.pk}
    assert _ids(workspace, search="ada love") == {ada.pk}
    assert _ids(workspace, search="(415) 555-0101") == {ada.pk}
    assert _ids(workspace, search=ada.email.upper()) == {ada.pk}
    assert _ids(workspace, search="100%") == set()  # LIKE wildcards are literal


def test_filter_by_group_status_tag_and_presence(workspace):
    group = ContactGroupFactory(workspace=workspace)
    a = ContactFactory(workspace=workspace, in_groups=[group], email="")
    b = ContactFactory(workspace=workspace, phone="")
    services.contact_opt_out(contact=b, reason="manual")
    services.contacts_add_tag(workspace=workspace, contact_ids=[b.pk], name="vip")
    assert _ids(workspace, group=group.pk) == {a.pk}
    assert _ids(workspace, status="opted_out") == {b.pk}
    assert _ids(workspace, tag="vip") == {b.pk}
    assert _ids(workspace, has_phone="false") == {b.pk}
    assert _ids(workspace, has_email="false") == {a.pk}
    assert _ids(workspace, has_email="true") == {b.pk}


def test_filter_matches_nothing_for_invalid_values(workspace, other_workspace):
    ContactFactory(workspace=workspace)
    foreign = ContactGroupFactory(workspace=other_workspace)
    assert _ids(workspace, group=foreign.pk) == set()
    assert _ids(workspace, created_after="not a date") == set()
    assert _ids(workspace, status="archived") == set()


@pytest.mark.parametrize("few_matches", [0, 10_000])
def test_filter_search_keeps_list_order_whichever_plan(workspace, monkeypatch, few_matches):
    from datetime import timedelta

    from django.utils.timezone import now

    from contacts import filters

    monkeypatch.setattr(filters, "FEW_MATCHES", few_matches)
    old = ContactFactory(workspace=workspace, last_name="Smith", created_at=now() - timedelta(1))
    new = ContactFactory(workspace=workspace, last_name="Smithers", created_at=now())
    ContactFactory(workspace=workspace, last_name="Jones")
    found = list(ContactFilter({"search": "smith"}, workspace=workspace).qs)
    assert found == [new, old]


def test_group_counts_are_cached_for_big_workspaces_and_dropped_on_writes(workspace, monkeypatch):
    from django.core.cache import cache

    from contacts import selectors

    cache.clear()
    monkeypatch.setattr(selectors, "BIG_WORKSPACE", 1)
    group = ContactGroupFactory(workspace=workspace)
    contact = ContactFactory(workspace=workspace, in_groups=[group])
    assert selectors.group_counts(workspace=workspace) == ({group.pk: 1}, 1)
    ContactFactory(workspace=workspace, in_groups=[group])  # bypasses the services
    assert selectors.group_counts(workspace=workspace) == ({group.pk: 1}, 1)  # cached
    groups.group_remove_contacts(group=group, contact_ids=[contact.pk])
    assert selectors.group_counts(workspace=workspace) == ({group.pk: 1}, 2)
    cache.clear()


# --- selectors: the contacts a list, a batch operation, an export and the API work on -------


def test_contact_list_and_count_share_filters_ids_and_the_group_shortcut(
    workspace, other_workspace
):
    from contacts.selectors import contact_count, contact_list

    group = ContactGroupFactory(workspace=workspace)
    ann = ContactFactory(workspace=workspace, first_name="Ann", email="", in_groups=[group])
    bob = ContactFactory(workspace=workspace, first_name="Bob", in_groups=[group])
    cid = ContactFactory(workspace=workspace, first_name="Cid")
    ContactFactory(workspace=other_workspace, first_name="Ann")

    def both(**kwargs):
        listed = set(contact_list(workspace=workspace, **kwargs).values_list("pk", flat=True))
        assert contact_count(workspace=workspace, **kwargs) == len(listed)
        return listed

    assert both() == {ann.pk, bob.pk, cid.pk}
    assert both(filters={"group": str(group.pk)}) == {ann.pk, bob.pk}
    assert both(filters={"group": str(group.pk), "has_email": "true"}) == {bob.pk}
    assert both(filters={"search": "ann"}) == {ann.pk}
    assert both(ids=[ann.pk, cid.pk]) == {ann.pk, cid.pk}
    assert both(filters={"search": "bob"}, ids=[ann.pk, bob.pk]) == {bob.pk}
    # a filter that cannot be read matches nothing (a bulk delete must never mean "all")
    assert both(filters={"created_after": "not a date"}) == set()
    other_group = ContactGroupFactory(workspace=other_workspace)
    assert both(filters={"group": str(other_group.pk)}) == set()
    assert contact_count(workspace=workspace, cap=1) == 2  # counting stops past the cap
