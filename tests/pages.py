"""Every page of the dashboard, found in the URL conf (so a page added tomorrow is visited too),
with each URL argument filled from a workspace full of the things pages show.

`dashboard_urls(world)` walks every named, namespaced route except the admin and the API and
reverses it with the world's ids. A route whose argument the world cannot fill is returned in
`missing`: the tests fail on it, naming it, so whoever adds such a page adds its object to
`build_world` instead of leaving the page unvisited.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import URLResolver, get_resolver, reverse

SKIPPED_NAMESPACES = {"admin"}
BUILDER_STEPS = ["group", "channel", "message", "settings", "schedule", "review"]


@dataclass
class World:
    """Ids by entity ("contact", "campaign", …) and values for other arguments ("step")."""

    ids: dict[str, list] = field(default_factory=dict)

    def values(self, url_name: str, argument: str) -> list | None:
        entity = argument.removesuffix("_id")
        if argument in {"pk", "job_id"}:  # whose id it is, the route's name says
            entity = url_name.split("-")[0]
        return self.ids.get(entity)


def _routes():
    """(namespace, name, arguments) of every named route under a namespace."""

    def walk(resolver: URLResolver, namespace: str | None, prefix: str):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace in SKIPPED_NAMESPACES or "api/" in prefix + str(entry.pattern):
                    continue
                yield from walk(entry, entry.namespace or namespace, prefix + str(entry.pattern))
            elif namespace and entry.name:
                yield namespace, entry.name, list(entry.pattern.regex.groupindex)

    yield from walk(get_resolver(), None, "")


def dashboard_urls(world: World) -> tuple[list[str], list[str]]:
    urls, missing = [], []
    for namespace, name, arguments in _routes():
        combos: list[dict] = [{}]
        for argument in arguments:
            values = world.values(name, argument)
            if not values:
                missing.append(f"{namespace}:{name} ({argument})")
                combos = []
                break
            combos = [{**combo, argument: value} for combo in combos for value in values]
        urls.extend(reverse(f"{namespace}:{name}", kwargs=combo) for combo in combos)
    return urls, missing


def build_world(workspace, user) -> World:
    """One of everything a page can show, with long values where layouts tend to break."""
    from accounts.invitations import invitation_create
    from accounts.models import Membership
    from accounts.services import api_key_create
    from audiences.services import smart_group_create
    from campaigns.models import Campaign
    from contacts.importing import import_job_create_from_text, import_job_run
    from contacts.importing.jobs import import_job_confirm, import_job_set_mapping
    from contacts.models import ExportJob
    from conversations.models import AgentRule
    from messaging.unsubscribe import unsubscribe_token
    from tests.campaigns.helpers import make_campaign, make_group, make_sender
    from tests.conversations.factories import AgentFactory
    from tests.factories import ContactFactory, MembershipFactory, UserFactory

    group = make_group(workspace, 30, name="Spring clinic patients — downtown and uptown")
    contact = ContactFactory(
        workspace=workspace,
        first_name="Maximiliana-Konstantina",
        last_name="Vandenberghe-Oyelaran",
        email="maximiliana.konstantina.vandenberghe-oyelaran@very-long-company-domain.example.com",
        phone="+14155550123",
        company="International Consolidated Amalgamated Holdings and Subsidiaries, Incorporated",
        metadata={f"custom_field_number_{n}": "a fairly long custom value" for n in range(8)},
        in_groups=[group],
    )
    colleague = MembershipFactory(
        user=UserFactory(username="a-colleague-with-a-rather-long-username"),
        workspace=workspace,
        role=Membership.Role.MEMBER,
    )
    key, _ = api_key_create(workspace=workspace, name="CRM synchronisation (nightly)")
    invitation, _ = invitation_create(
        workspace=workspace,
        email="a.new.colleague.with.a.long.address@very-long-company-domain.example.com",
        role=Membership.Role.ADMIN,
        by=Membership.objects.get(workspace=workspace, user=user),
    )
    agent = AgentFactory(workspace=workspace)
    rule = AgentRule.objects.create(
        workspace=workspace, agent=agent, keyword="CONFIRM", reply="Thanks, confirmed!"
    )
    sender = make_sender(workspace)
    campaign = make_campaign(
        workspace, group, name="Spring clinic reminders for every downtown patient", sender=sender
    )
    make_campaign(workspace, group, name="Sent already", state=Campaign.State.COMPLETED)
    header = ",".join(["First name", "Last name", "Mobile", "Email", "Company"] + [
        f"Custom column number {n}" for n in range(10)
    ])  # fmt: skip
    row = ",".join(["Ada", "Lovelace", "(415) 555-0132", "ada@example.com", "Analytical"] + [
        f"value {n} that is long" for n in range(10)
    ])  # fmt: skip
    text = f"{header}\n{row}\n"
    mapping_job = import_job_create_from_text(workspace=workspace, user=user, text=text)
    preview_job = import_job_create_from_text(workspace=workspace, user=user, text=text)
    import_job_set_mapping(job=preview_job, mapping=None)  # the guessed mapping
    done_job = import_job_create_from_text(workspace=workspace, user=user, text=text)
    import_job_set_mapping(job=done_job, mapping=None)
    import_job_confirm(job=done_job, group_name="Imported", enqueue=False)
    import_job_run(job_id=done_job.pk)
    export = ExportJob.objects.create(workspace=workspace, created_by=user)
    smart_group = smart_group_create(
        workspace=workspace,
        name="Downtown patients who replied in the last thirty days, excluding the uptown list",
        definition={
            "match": "all",
            "conditions": [
                {"field": "metadata.custom_field_number_1", "op": "contains", "value": "long"},
                {"field": "replied", "op": "within_days", "value": 30},
                {"field": "group", "op": "in", "value": [group.pk]},
            ],
        },
        actor=user,
    )
    conversation = _conversation(contact, agent, campaign, sender, user)
    calls = _voice_call(workspace, group, contact, agent)
    return World(
        ids={
            "contact": [contact.pk],
            "group": [group.pk],
            "campaign": [campaign.pk, calls.pk],
            "step": BUILDER_STEPS,
            "action": ["pause"],
            "sender": [sender.pk],
            "agent": [agent.pk],
            "rule": [rule.pk],
            "membership": [colleague.pk],
            "invitation": [invitation.pk],
            "key": [key.pk],
            "import": [mapping_job.pk, preview_job.pk, done_job.pk],
            "export": [export.pk],
            "smartgroup": [smart_group.pk],
            "conversation": [conversation.pk],
            "token": [unsubscribe_token(contact_id=contact.pk, workspace_id=workspace.pk)],
            "code": ["no-such-link"],  # its 404 page: a real link would leave the site
            "workspace": [workspace.pk],  # the inbound email webhook (POST only)
        }
    )


def _voice_call(workspace, group, contact, agent):
    """A voice campaign whose agent converses, with one answered call and its transcript."""
    from campaigns.models import Campaign
    from conversations.models import VoiceCall, VoiceTurn
    from messaging.models import Message
    from tests.campaigns.helpers import make_campaign

    campaign = make_campaign(
        workspace,
        group,
        name="Friday appointment confirmation calls for every downtown patient",
        channel="voice",
        message_template="",
        agent=agent,
        state=Campaign.State.COMPLETED,
    )
    message = Message.objects.create(
        workspace=workspace,
        campaign=campaign,
        contact=contact,
        channel="voice",
        to_address=contact.phone,
        body="Hi Maximiliana-Konstantina, this is Ava. Can we confirm Friday at 10:00?",
        status=Message.Status.DELIVERED,
        provider_message_id="CA" + "1" * 32,
    )
    call = VoiceCall.objects.create(
        workspace=workspace,
        campaign=campaign,
        message=message,
        contact=contact,
        agent=agent,
        call_sid=message.provider_message_id,
        answered_by="human",
        ending=VoiceCall.Ending.HANDOFF,
        handoff=True,
        handoff_reason="Asks about the bill: " + "Supercalifragilisticexpialidocious" * 3,
        duration_seconds=75,
    )
    VoiceTurn.objects.bulk_create(
        [
            VoiceTurn(call=call, number=0, reply=message.body, action="opening"),
            VoiceTurn(
                call=call,
                number=1,
                speech="Yes but " + "Pneumonoultramicroscopicsilicovolcano" * 3,
                confidence=0.81,
                reply="Thank you. Someone from our team will call you back. Goodbye.",
                action="handoff",
            ),
        ]
    )
    return campaign


def _conversation(contact, agent, campaign, sender, user):
    """A thread with every kind of turn, long unbroken words included, waiting for a person."""
    from conversations import threads

    conversation = threads.conversation_for(
        contact=contact, channel="sms", agent=agent, campaign=campaign, sender=sender
    )
    turns = [
        ("out", "campaign", "Hi Maximiliana, your appointment is on Friday at 10:00. Reply."),
        ("in", "contact", "Could we move it? " + "Pneumonoultramicroscopicsilicovolcano" * 3),
        ("out", "agent", "Of course — which day suits you best? We are open Monday to Friday."),
        ("in", "contact", "https://example.com/" + "a-very-long-path-segment/" * 6),
    ]
    for direction, author, body in turns:
        threads.turn_append(
            conversation=conversation, direction=direction, author=author, body=body
        )
    threads.conversation_handoff(
        conversation=conversation,
        reason="The contact asks to reschedule, which the agent may not do on its own.",
    )
    threads.conversation_reply(conversation=conversation, user=user, body="Friday 14:00 works.")
    return conversation
