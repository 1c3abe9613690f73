"""A few demo conversations in the demo workspace (safe to re-run): `make run` calls it after
seed_demo, so a fresh machine's inbox shows an agent at work and one thread needing a person."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils.timezone import now

from accounts.models import Workspace
from contacts.models import Contact
from conversations import threads
from conversations.models import Agent, Conversation

SLUG = "demo"
THREADS = [
    (
        "agent",
        [
            (
                "out",
                "agent",
                "Hi {name}, this is Ava from Demo Dental: your check-up is Friday "
                "at 10:00. Reply to confirm or to pick another time.",
            ),
            ("in", "contact", "Yes, Friday works"),
            ("out", "agent", "Great, see you Friday at 10:00, {name}!"),
        ],
        "",
    ),
    (
        "human",
        [
            ("out", "agent", "Hi {name}, your check-up is due. Shall we book you in next week?"),
            ("in", "contact", "Last time I was charged twice, can someone look at my bill?"),
            ("out", "agent", "I'm sorry about that, {name}. A colleague will look into it today."),
        ],
        "A billing complaint: a double charge.",
    ),
    (
        "closed",
        [
            ("out", "agent", "Hi {name}, a reminder of your cleaning on Monday at 9:00."),
            ("in", "contact", "Thanks, see you then"),
        ],
        "",
    ),
]


class Command(BaseCommand):
    help = "Create a few demo conversations in the demo workspace (safe to re-run)."

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=SLUG).first()
        if workspace is None:
            self.stdout.write("No demo workspace: run seed_demo first.")
            return
        if Conversation.objects.for_workspace(workspace).exists():
            self.stdout.write("Demo conversations already present: left as they are.")
            return
        agent, _ = Agent.objects.get_or_create(
            workspace=workspace,
            name="Ava",
            defaults={
                "instructions": "You are the front desk of Demo Dental. Be brief and friendly.",
                "knowledge": "Open Monday to Friday, 9:00 to 17:00. A check-up costs $80.",
                "goal": "Confirm the appointment, or find a new time.",
                "handoff_rules": "Billing, complaints and anything medical.",
            },
        )
        contacts = (
            Contact.objects.for_workspace(workspace).filter(status="active").exclude(phone="")
        ).order_by("id")[:3]
        start = now() - timedelta(hours=3)
        for index, (contact, (status, turns, reason)) in enumerate(
            zip(contacts, THREADS, strict=False)
        ):
            self._thread(contact, agent, status, turns, reason, start + timedelta(minutes=index))
        self.stdout.write(f"Created {min(len(contacts), len(THREADS))} demo conversations.")

    def _thread(self, contact, agent, status, turns, reason, at):
        conversation = threads.conversation_for(contact=contact, channel="sms", agent=agent, at=at)
        name = contact.first_name or "there"
        for step, (direction, author, body) in enumerate(turns):
            threads.turn_append(
                conversation=conversation,
                direction=direction,
                author=author,
                body=body.format(name=name),
                at=at + timedelta(minutes=5 * step),
            )
        # The agent's replies count towards its max turns, as if its model had sent them.
        said = sum(1 for _, author, _ in turns if author == "agent")
        Conversation.objects.filter(pk=conversation.pk).update(agent_replies=said)
        if status == "human":
            threads.conversation_handoff(conversation=conversation, reason=reason)
        elif status == "closed":
            threads.conversation_close(conversation=conversation)
        if status != "human":
            threads.conversation_mark_read(conversation=conversation)
