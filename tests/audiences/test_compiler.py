"""Every field with every operator it takes, on a fixed set of awkward contacts: the SQL
selects what the reference evaluation selects, and the documented edge cases hold."""

from datetime import UTC, datetime, timedelta

import pytest

from audiences.definition import definition_clean
from audiences.fields import FIELDS
from audiences.selectors import smart_group_contacts
from contacts.models import Contact, ContactGroup, GroupMembership, Tag
from engagement.models import Click, Conversion
from messaging.models import InboundMessage, Message

from .reference import Reference

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
ZONE = "America/New_York"
DAY = timedelta(days=1)


def at(days: float) -> datetime:
    return NOW - timedelta(days=days)


PEOPLE = {
    "ann": {
        "first_name": "Ann",
        "company": "Acme Corp",
        "email": "ann@acme.test",
        "metadata": {"plan": "Pro", "score": 42, "visit": "2026-05-01", "vip": True},
        "tags": ["vip"],
        "groups": [0],
        "created_at": at(2),
        "sent": [at(1)],
        "delivered": [at(1)],
        "replied": [at(0.5)],
        "clicked": [at(1)],
        "converted": [at(0.2)],
    },
    "bob": {
        "first_name": "Bob",
        "company": "",
        "email": "",
        "metadata": {"plan": "free", "score": "7", "visit": "2026-06-02T09:00"},
        "tags": [],
        "groups": [1],
        "created_at": at(40),
        "sent": [at(45)],
        "delivered": [],
        "replied": [],
        "clicked": [at(40)],
        "converted": [],
    },
    "cy": {
        "first_name": "Cy",
        "company": "100% Natural_Foods",
        "email": "cy@natural.test",
        "opt_out_reason": "message",
        "metadata": {"plan": "", "score": "high", "visit": "soon", "vip": "false"},
        "tags": ["new", "vip"],
        "groups": [0, 1],
        "created_at": at(400),
        "sent": [],
        "delivered": [],
        "replied": [at(100)],
        "clicked": [],
        "converted": [at(200)],
    },
    "dee": {
        "first_name": "dee",
        "company": "ACME corp",
        "email": "DEE@acme.test",
        "metadata": {"score": 42.0, "visit": None, "nested": {"a": 1}},
        "tags": ["new"],
        "groups": [],
        "created_at": at(0.1),
        "sent": [at(10), at(3)],
        "delivered": [at(3)],
        "replied": [],
        "clicked": [],
        "converted": [],
    },
}


@pytest.fixture
def population(workspace):
    workspace.timezone = ZONE
    workspace.save()
    groups = [ContactGroup.objects.create(workspace=workspace, name=f"G{i}").pk for i in range(2)]
    tags = {n: Tag.objects.create(workspace=workspace, name=n) for n in ("vip", "new", "unused")}
    people = {}
    for i, (name, person) in enumerate(PEOPLE.items()):
        reason = person.get("opt_out_reason", "")
        contact = Contact.objects.create(
            workspace=workspace,
            first_name=person["first_name"],
            company=person["company"],
            email=person["email"].lower(),
            phone=f"+1415555000{i}",
            status="opted_out" if reason else "active",
            opt_out_reason=reason,
            metadata=person["metadata"],
            created_at=person["created_at"],
        )
        contact.tags.set([tags[t] for t in person["tags"]])
        for index in person["groups"]:
            GroupMembership.objects.create(group_id=groups[index], contact=contact)
        for sent in person["sent"]:
            delivered = sent if sent in person["delivered"] else None
            Message.objects.create(
                workspace=workspace, contact=contact, channel="sms", sent_at=sent,
                delivered_at=delivered, status="delivered" if delivered else "sent",
            )  # fmt: skip
        for clicked_at in person["clicked"]:
            click(workspace, contact, clicked_at, Click.Kind.HUMAN)
        for j, occurred_at in enumerate(person["converted"]):
            Conversion.objects.create(
                workspace=workspace, contact=contact, name=f"order {j}", revenue=10,
                currency="USD", occurred_at=occurred_at,
            )  # fmt: skip
        for j, received in enumerate(person["replied"]):
            InboundMessage.objects.create(
                workspace=workspace, contact=contact, from_address=contact.phone,
                provider_message_id=f"SM{i}{j}", received_at=received,
            )  # fmt: skip
        people[name] = {
            **person,
            "pk": contact.pk,
            "last_name": "",
            "email": contact.email,
            "phone": contact.phone,
            "timezone": "",
            "status": contact.status,
            "opt_out_reason": reason,
            "groups": [groups[i] for i in person["groups"]],
        }
    # A link preview is no click: bob's recent one and dee's only one do not count.
    click(workspace, Contact.objects.get(pk=people["bob"]["pk"]), at(0.5), Click.Kind.BOT)
    click(workspace, Contact.objects.get(pk=people["dee"]["pk"]), at(1), Click.Kind.BOT)
    # A queued message was never sent: it does not make anyone "contacted".
    Message.objects.create(
        workspace=workspace, contact_id=people["cy"]["pk"], channel="sms", status="queued"
    )
    return workspace, groups, people


def click(workspace, contact, clicked_at, kind):
    """A click as the compiler reads it (the link and message behind it do not matter)."""
    Click.objects.create(
        workspace=workspace, contact=contact, link_id="Ab3De6Gh9Jk2", message_id=1,
        kind=kind, clicked_at=clicked_at,
    )  # fmt: skip


def run(population, *conditions, match="all", exclude=()):
    """The names the SQL selects, after checking the reference selects the same."""
    workspace, _, people = population
    definition = {
        "match": match,
        "conditions": list(conditions),
        "exclude_group_ids": list(exclude),
    }
    cleaned = definition_clean(workspace=workspace, data=definition)
    found = smart_group_contacts(workspace=workspace, definition=cleaned, now=NOW)
    pks = set(found.values_list("pk", flat=True))
    got = {name for name, person in people.items() if person["pk"] in pks}
    reference = Reference(NOW, ZONE)
    assert got == {name for name, p in people.items() if reference.matches(definition, p)}
    return got


def c(field, op, value=None):
    return (
        {"field": field, "op": op} if value is None else {"field": field, "op": op, "value": value}
    )


# Every operator of every field, with values that touch the edge cases.
VALUES = {
    "text": {"eq": "ACME CORP", "contains": "%", "in": ["ann", "DEE"]},
    "status": {"eq": "opted_out", "in": ["active"]},
    "opt_out_reason": {"eq": "message", "in": ["manual", "message"]},
    "tag": {"eq": "vip", "in": ["new", "unused"]},
    "created_at": {"eq": "2026-05-08", "gt": "2026-05-08", "gte": "2026-05-08", "lt": "2026-05-08",
                   "lte": "2026-05-08", "within_days": 3},
    "last_contacted_at": {"gt": "2026-05-07", "gte": "2026-05-07", "lt": "2026-05-07",
                          "lte": "2026-05-07", "within_days": 5},
    "event": {"within_days": 2},
}  # fmt: skip


def field_cases():
    for field, kind in FIELDS.items():
        if field == "group":
            continue  # needs the fixture's ids: test_group_conditions
        values = VALUES.get(field) or VALUES["text" if "column" in kind.__dict__ else "event"]
        for op in kind.ops:
            positive = {"neq": "eq", "not_in": "in", "not_within_days": "within_days"}.get(op, op)
            if positive in ("set", "not_set"):
                yield field, op, None
            elif positive in values:
                yield field, op, values[positive]


@pytest.mark.parametrize("field,op,value", list(field_cases()))
def test_every_field_and_operator_matches_the_reference(population, field, op, value):
    run(population, c(field, op, value))


CUSTOM = [
    ("eq", "pro"), ("eq", 42), ("eq", True), ("eq", "false"), ("neq", "pro"), ("neq", 42),
    ("contains", "r"), ("set", None), ("not_set", None), ("in", ["free", "PRO"]),
    ("in", [7, 42]), ("not_in", ["free"]), ("gt", 10), ("gte", 42), ("lt", 42.5), ("lte", 7),
    ("gt", "2026-05-01"), ("gte", "2026-05-01"), ("lt", "2026-06-02"), ("lte", "2026-06-02"),
    ("within_days", 10), ("within_days", -30), ("not_within_days", 10),
]  # fmt: skip


@pytest.mark.parametrize("key", ["plan", "score", "visit", "vip", "nested", "missing"])
@pytest.mark.parametrize("op,value", CUSTOM)
def test_custom_fields_match_the_reference(population, key, op, value):
    run(population, c(f"metadata.{key}", op, value))


def test_missing_custom_field_matches_nobody_or_everybody_as_the_operator_says(population):
    field = "metadata.no_such_field"
    everyone = {"ann", "bob", "cy", "dee"}
    for op, value in [("eq", "x"), ("set", None), ("gt", 1), ("lt", "2030-01-01"),
                      ("contains", "a"), ("in", ["a"]), ("within_days", 5)]:  # fmt: skip
        assert run(population, c(field, op, value)) == set(), op
    for op, value in [("neq", "x"), ("not_set", None), ("not_in", ["a"]), ("not_within_days", 5)]:
        assert run(population, c(field, op, value)) == everyone, op


def test_number_and_date_conditions_skip_text_values(population):
    # cy's score is "high" and visit is "soon": neither a number nor a date, never an error.
    assert run(population, c("metadata.score", "gt", 0)) == {"ann", "bob", "dee"}
    assert run(population, c("metadata.visit", "gte", "2000-01-01")) == {"ann", "bob"}
    assert "cy" in run(population, c("metadata.score", "neq", 42))


def test_numbers_compare_as_numbers_whatever_their_type(population):
    # 42 (JSON number), 42.0 and "7" (text): 42 matches the first two, not as text.
    assert run(population, c("metadata.score", "eq", 42)) == {"ann", "dee"}
    assert run(population, c("metadata.score", "eq", "42")) == {"ann"}
    assert run(population, c("metadata.score", "lt", 10)) == {"bob"}


def test_text_is_compared_without_case_and_like_wildcards_are_literal(population):
    assert run(population, c("company", "eq", "acme corp")) == {"ann", "dee"}
    assert run(population, c("company", "contains", "%")) == {"cy"}
    assert run(population, c("company", "contains", "n_t")) == set()  # not "nat"


def test_group_conditions_and_exclusions(population):
    _, (g0, g1), _ = population
    assert run(population, c("group", "eq", g0)) == {"ann", "cy"}
    assert run(population, c("group", "in", [g0, g1])) == {"ann", "bob", "cy"}
    assert run(population, c("group", "not_in", [g0, g1])) == {"dee"}
    assert run(population, c("group", "neq", g1)) == {"ann", "dee"}
    assert run(population, exclude=[g0]) == {"bob", "dee"}
    assert run(population, c("tag", "set"), exclude=[g0, g1]) == {"dee"}


def test_all_and_any(population):
    tagged, opted = c("tag", "eq", "vip"), c("status", "eq", "opted_out")
    assert run(population, tagged, opted) == {"cy"}
    assert run(population, tagged, opted, match="any") == {"ann", "cy"}


def test_engagement(population):
    assert run(population, c("replied", "within_days", 30)) == {"ann"}
    assert run(population, c("replied", "set")) == {"ann", "cy"}
    assert run(population, c("delivered", "not_set")) == {"bob", "cy"}
    # cy has only a queued message: never contacted.
    assert run(population, c("last_contacted_at", "not_set")) == {"cy"}
    assert run(population, c("last_contacted_at", "lt", "2026-05-01")) == {"bob"}
    assert run(population, c("last_contacted_at", "not_within_days", 7)) == {"bob", "cy"}


def test_clicks_and_conversions(population):
    assert run(population, c("clicked", "within_days", 2)) == {"ann"}  # bob's recent is a bot
    assert run(population, c("clicked", "set")) == {"ann", "bob"}
    assert run(population, c("clicked", "not_set")) == {"cy", "dee"}  # dee: a preview only
    assert run(population, c("converted", "within_days", 1)) == {"ann"}
    assert run(population, c("converted", "set")) == {"ann", "cy"}
    assert run(population, c("converted", "not_within_days", 30)) == {"bob", "cy", "dee"}
    assert run(population, c("clicked", "set"), c("converted", "not_set")) == {"bob"}


def test_dates_are_whole_days_in_the_workspace_zone(population):
    # ann was created 2026-05-08 12:00 UTC = 08:00 in New York; dee 2026-05-10 09:36 UTC.
    assert run(population, c("created_at", "eq", "2026-05-08")) == {"ann"}
    assert run(population, c("created_at", "gt", "2026-05-08")) == {"dee"}
    assert run(population, c("created_at", "lte", "2026-05-08")) == {"ann", "bob", "cy"}


def test_another_workspace_contacts_are_never_selected(population, other_workspace):
    Contact.objects.create(
        workspace=other_workspace, email="ann@acme.test", company="Acme Corp", metadata={}
    )
    assert run(population, c("company", "eq", "acme corp")) == {"ann", "dee"}
    assert run(population) == {"ann", "bob", "cy", "dee"}


def test_a_smart_group_works_inside_another_query(population):
    # The custom-field SQL names its column through the ORM, so it holds when Django
    # renames the contacts table inside a subquery.
    workspace, _, people = population
    definition = definition_clean(
        workspace=workspace, data={"conditions": [c("metadata.plan", "eq", "pro")]}
    )
    members = smart_group_contacts(workspace=workspace, definition=definition, now=NOW)

    messages = Message.objects.filter(contact__in=members.values("pk"))

    assert {m.contact_id for m in messages} == {people["ann"]["pk"]}
