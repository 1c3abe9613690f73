"""What conversations does when messaging reports an event (see messaging/hooks.py)."""

from messaging.models import InboundMessage

from .replies import inbound_handle


def inbound_received(*, inbound: InboundMessage) -> None:
    """The message joins its conversation; keyword rules, the agent or a person answer it.

    messaging logs and swallows an exception here: the inbound message is already stored,
    and the provider's retry of the webhook would only be a duplicate."""
    inbound_handle(inbound=inbound)
