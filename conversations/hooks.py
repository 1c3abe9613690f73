"""What conversations does when messaging reports an event (see messaging/hooks.py)."""

import logging

from messaging.models import InboundMessage
from messaging.outbox import message_enqueue

from .responders import get_responder

logger = logging.getLogger("herald.conversations")


def inbound_received(*, inbound: InboundMessage) -> None:
    """Answer a reply that is not a keyword with the responder's text, through the outbox.

    A failing responder (an LLM timing out) costs the reply only: the inbound message is
    already stored, and the provider's retry of the webhook would be a duplicate.
    """
    if inbound.action != InboundMessage.Action.NONE:
        return
    try:
        text = get_responder().reply(inbound)
    except Exception:
        logger.exception("Responder failed on inbound message %s", inbound.pk)
        return
    if not text:
        return
    message_enqueue(
        workspace=inbound.workspace,
        contact=inbound.contact,
        channel="sms",
        to_address=inbound.from_address,
        body=text,
        sender=inbound.sender,
    )
    InboundMessage.objects.filter(pk=inbound.pk).update(action=InboundMessage.Action.AGENT_REPLY)
