"""For random contacts and random condition sets, the compiled SQL selects exactly the
contacts the plain-Python reference (reference.py) selects, on SQLite and PostgreSQL alike."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiences.definition import definition_clean
from audiences.selectors import smart_group_contacts
from contacts.models import Contact, ContactGroup, GroupMembership, Tag
from engagement.models import Click, Conversion
from messaging.models import InboundMessage, Message

from .reference import Reference

NOW = datetime(2026, 3, 29, 5, 30, tzinfo=UTC)  # just after a DST switch in Europe
ZONE = "Europe/Paris"
TAGS = ["vip", "new", "Late"]
KEYS = ["plan", "score", "when", "odd key"]
ALPHABET = "aAbBzZ019 .-+%_\\'\"\néÉ日ß"
serial = count()

text = st.text(ALPHABET, max_size=6)
word = text.filter(str.strip)  # a value to compare with: blank is refused ("is empty" is for that)
days = st.integers(-400, 30).map(lambda d: (NOW + timedelta(days=d)).date().isoformat())
numbers = st.one_of(st.integers(-1000, 1000), st.integers(-4000, 4000).map(lambda n: n / 4))
number_texts = st.sampled_from(
    ["42", "42.0", "-3.5", "+7", ".5", "1e3", " 42", "4 2", "1.", "007", "1-2", "--1", "9" * 41]
)
date_texts = st.one_of(
    days, days.map(lambda d: d + "T10:00"), days.map(lambda d: d + "x"), st.just("2026-3-1")
)
custom_values = st.one_of(
    text, numbers, number_texts, date_texts, st.booleans(), st.none(), st.just("TRUE")
)
moments = st.integers(-400 * 24, 48).map(lambda h: NOW + timedelta(hours=h, minutes=7))

contacts = st.lists(
    st.fixed_dictionaries(
        {
            "first_name": text,
            "company": text,
            "email": st.sampled_from(["", "ann@example.com", "BOB@x.org"]),
            "opted_out": st.sampled_from(["", "", "manual", "message"]),
            "metadata": st.dictionaries(st.sampled_from(KEYS), custom_values, max_size=4),
            "tags": st.lists(st.sampled_from(TAGS), unique=True, max_size=2),
            "groups": st.lists(st.integers(0, 2), unique=True, max_size=2),
            "created_at": moments,
            "sent": st.lists(st.one_of(moments, st.none()), max_size=2),
            "delivered": st.lists(moments, max_size=1),
            "replied": st.lists(moments, max_size=1),
            "clicked": st.lists(st.tuples(moments, st.booleans()), max_size=2),
            "converted": st.lists(moments, max_size=2),
        }
    ),
    min_size=1,
    max_size=7,
)


def text_condition(field):
    return st.one_of(
        st.builds(dict, field=st.just(field), op=st.sampled_from(["eq", "neq"]), value=word),
        st.builds(dict, field=st.just(field), op=st.just("contains"), value=word),
        st.builds(dict, field=st.just(field), op=st.sampled_from(["set", "not_set"])),
        st.builds(
            dict,
            field=st.just(field),
            op=st.sampled_from(["in", "not_in"]),
            value=st.lists(word, min_size=1, max_size=3),
        ),
    )


def custom_condition():
    field = st.sampled_from(KEYS).map(lambda k: f"metadata.{k}")
    comparable = st.one_of(numbers, days)
    within = st.integers(-60, 400).filter(bool)
    return st.one_of(
        text_condition("metadata.plan"),
        st.builds(
            dict, field=field, op=st.sampled_from(["eq", "neq"]), value=st.one_of(word, numbers)
        ),
        st.builds(dict, field=field, op=st.sampled_from(["eq", "neq"]), value=st.booleans()),
        st.builds(
            dict, field=field, op=st.sampled_from(["gt", "gte", "lt", "lte"]), value=comparable
        ),
        st.builds(
            dict,
            field=field,
            op=st.sampled_from(["in", "not_in"]),
            value=st.one_of(st.lists(numbers, min_size=1, max_size=3), st.lists(word, min_size=1)),
        ),
        st.builds(
            dict, field=field, op=st.sampled_from(["within_days", "not_within_days"]), value=within
        ),
        st.builds(dict, field=field, op=st.sampled_from(["set", "not_set"])),
    )


def event_condition(field, extra_ops=()):
    """set / not_set, (not_)within_days N, and the given date comparisons."""

    def condition(op):
        if op in ("set", "not_set"):
            return st.just({"field": field, "op": op})
        value = st.integers(1, 400) if "within" in op else days
        return value.map(lambda v: {"field": field, "op": op, "value": v})

    ops = ["set", "not_set", "within_days", "not_within_days", *extra_ops]
    return st.sampled_from(ops).flatmap(condition)


def choice_condition(field, values):
    return st.one_of(
        st.builds(dict, field=st.just(field), op=st.sampled_from(["eq", "neq"]), value=values),
        st.builds(
            dict,
            field=st.just(field),
            op=st.sampled_from(["in", "not_in"]),
            value=st.lists(values, min_size=1, max_size=2),
        ),
    )


def group_conditions(groups):
    ids = st.sampled_from(groups)
    return st.one_of(
        choice_condition("tag", st.sampled_from(TAGS)),
        st.builds(dict, field=st.just("tag"), op=st.sampled_from(["set", "not_set"])),
        choice_condition("group", ids),
    )


def definitions(groups):
    # Drawn field first, uniformly: one_of leans on its first branches.
    condition = st.sampled_from(
        [
            text_condition("first_name"),
            text_condition("email"),
            text_condition("company"),
            choice_condition("status", st.sampled_from(["active", "opted_out"])),
            choice_condition("opt_out_reason", st.sampled_from(["manual", "message", "complaint"])),
            st.builds(
                dict, field=st.just("opt_out_reason"), op=st.sampled_from(["set", "not_set"])
            ),
            group_conditions(groups),
            # Custom fields have the most ways to go wrong: drawn three times as often.
            custom_condition(),
            custom_condition(),
            custom_condition(),
            event_condition("created_at", ("gt", "gte", "lt", "lte", "eq", "neq")).filter(
                lambda c: c["op"] not in ("set", "not_set")
            ),
            event_condition("last_contacted_at", ("gt", "gte", "lt", "lte")),
            event_condition("delivered"),
            event_condition("replied"),
            event_condition("clicked"),
            event_condition("converted"),
        ]
    ).flatmap(lambda strategy: strategy)
    return st.fixed_dictionaries(
        {
            "match": st.sampled_from(["all", "any"]),
            "conditions": st.lists(condition, min_size=1, max_size=4),
            "exclude_group_ids": st.lists(st.sampled_from(groups), unique=True, max_size=2),
        }
    )


def store(workspace, people: list[dict], groups: list[int], tags: dict) -> list[Contact]:
    stored = []
    for person in people:
        n = next(serial)
        reason = person["opted_out"]
        contact = Contact.objects.create(
            workspace=workspace,
            first_name=person["first_name"],
            company=person["company"],
            email=person["email"],
            phone="" if person["email"] else f"+1415555{n % 10000:04d}",
            status="opted_out" if reason else "active",
            opt_out_reason=reason,
            metadata=person["metadata"],
            created_at=person["created_at"],
        )
        contact.tags.set([tags[name] for name in person["tags"]])
        for index in person["groups"]:
            GroupMembership.objects.create(group_id=groups[index], contact=contact)
        events = [(at, None) for at in person["sent"]] + [(at, at) for at in person["delivered"]]
        for sent_at, delivered_at in events:
            Message.objects.create(
                workspace=workspace,
                contact=contact,
                channel="sms",
                sent_at=sent_at,
                delivered_at=delivered_at,
                status="delivered" if delivered_at else "sent" if sent_at else "queued",
            )
        for at in person["replied"]:
            InboundMessage.objects.create(
                workspace=workspace,
                contact=contact,
                from_address="+14155550000",
                provider_message_id=f"SM{n}-{at.timestamp()}",
                received_at=at,
            )
        for at, by_a_person in person["clicked"]:
            kind = Click.Kind.HUMAN if by_a_person else Click.Kind.BOT
            Click.objects.create(
                workspace=workspace, contact=contact, link_id="Ab3De6Gh9Jk2", message_id=1,
                kind=kind, clicked_at=at,
            )  # fmt: skip
        for at in person["converted"]:
            Conversion.objects.create(
                workspace=workspace, contact=contact, name="order", currency="USD", occurred_at=at
            )
        stored.append(contact)
    return stored


def as_reference(person: dict, contact: Contact, groups: list[int]) -> dict:
    # The last_contacted_at reference reads send times only: a delivered message was sent.
    return {
        **person,
        "last_name": "",
        "phone": contact.phone,
        "timezone": "",
        "status": contact.status,
        "opt_out_reason": contact.opt_out_reason,
        "groups": [groups[i] for i in person["groups"]],
        "sent": person["sent"] + person["delivered"],
        # Only a person's click counts; a link preview (a bot) does not.
        "clicked": [at for at, by_a_person in person["clicked"] if by_a_person],
    }


@pytest.fixture
def setup(workspace, other_workspace):
    workspace.timezone = ZONE
    workspace.save()
    groups = [ContactGroup.objects.create(workspace=workspace, name=f"G{i}").pk for i in range(3)]
    tags = {name: Tag.objects.create(workspace=workspace, name=name) for name in TAGS}
    # Another workspace's contact with everything: it must never be selected.
    stranger = Contact.objects.create(
        workspace=other_workspace, first_name="a", email="ann@example.com", metadata={"plan": "a"}
    )
    InboundMessage.objects.create(
        workspace=other_workspace, contact=stranger, from_address="+1", provider_message_id="x"
    )
    return workspace, groups, tags


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_sql_selects_what_the_reference_selects(setup, data):
    workspace, groups, tags = setup
    people = data.draw(contacts, label="contacts")
    definition = data.draw(definitions(groups), label="definition")
    reference = Reference(NOW, ZONE)
    with transaction.atomic():
        stored = store(workspace, people, groups, tags)
        expected = {
            c.pk
            for person, c in zip(people, stored, strict=True)
            if reference.matches(definition, as_reference(person, c, groups))
        }
        cleaned = definition_clean(workspace=workspace, data=definition)
        found = smart_group_contacts(workspace=workspace, definition=cleaned, now=NOW)
        assert set(found.values_list("pk", flat=True)) == expected
        transaction.set_rollback(True)
