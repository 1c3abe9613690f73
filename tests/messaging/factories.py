import factory
from django.utils import timezone

from messaging.models import PHONE_CHANNELS, Message, PhoneNumber, Sender
from tests.factories import ContactFactory, WorkspaceFactory


def claim_for(workspace, channel: str, address: str) -> PhoneNumber | None:
    """The workspace's claim on a phone sender's number (made if nobody holds it yet); a
    number another workspace holds is left to the database to refuse."""
    if channel not in PHONE_CHANNELS:
        return None
    claim, _ = PhoneNumber.objects.get_or_create(
        number=address, defaults={"workspace": workspace, "key": f"{workspace.pk}:{address}"}
    )
    return claim


class SenderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sender

    workspace = factory.SubFactory(WorkspaceFactory)
    channel = "sms"
    address = factory.Sequence(lambda n: f"+1415555{9000 + n % 1000:04d}")
    name = "Acme"
    claim = factory.LazyAttribute(lambda o: claim_for(o.workspace, o.channel, o.address))


class MessageFactory(factory.django.DjangoModelFactory):
    """A sent SMS with a provider sid, to a contact of the same workspace."""

    class Meta:
        model = Message

    workspace = factory.SubFactory(WorkspaceFactory)
    contact = factory.SubFactory(ContactFactory, workspace=factory.SelfAttribute("..workspace"))
    sender = factory.SubFactory(SenderFactory, workspace=factory.SelfAttribute("..workspace"))
    channel = "sms"
    to_address = factory.LazyAttribute(lambda m: m.contact.phone if m.contact else "+14155550199")
    body = "Hi there"
    status = Message.Status.SENT
    attempts = 1
    provider_message_id = factory.Sequence(lambda n: f"SM{n:032x}")
    sent_at = factory.LazyFunction(timezone.now)
