"""Message statuses, decided once (M4): their rank, the time column each stamps, and what
Twilio's message and call statuses mean here. The status webhook, its fast path, the send loop
and reconciliation all read them from this module.

Providers' statuses carry no sequence number and arrive in any order, so each status has a
rank and a message only ever moves up (`read` after `delivered`; a late `sent` changes
nothing).
"""

from .models import Message

S = Message.Status

RANK = {
    S.QUEUED: 0,
    S.SENDING: 1,
    S.UNKNOWN: 1,
    S.SENT: 2,
    S.DELIVERED: 3,
    S.UNDELIVERED: 3,
    S.FAILED: 3,
    S.READ: 4,
}
# The column a status stamps with the time the message reached it.
TIMESTAMP = {
    S.SENT: "sent_at",
    S.DELIVERED: "delivered_at",
    S.UNDELIVERED: "failed_at",
    S.FAILED: "failed_at",
    S.READ: "read_at",
}
# A call nobody answered (busy, no answer): it is called again after the retry interval, up
# to the retries, then failed. Not a status a message is stored with.
RETRY = "retry"

# Twilio's MessageStatus → ours (twilio.com/docs/messaging/api/message-resource).
TWILIO_MESSAGE = {
    "accepted": S.SENT,
    "scheduled": S.SENT,
    "queued": S.SENT,
    "sending": S.SENT,
    "sent": S.SENT,
    "delivered": S.DELIVERED,
    "partially_delivered": S.DELIVERED,
    "undelivered": S.UNDELIVERED,
    "failed": S.FAILED,
    "canceled": S.FAILED,
    "read": S.READ,
}
# Twilio's CallStatus → ours (twilio.com/docs/voice/api/call-resource); "answered" is a
# status callback event of its own.
TWILIO_CALL = {
    "queued": S.SENT,
    "initiated": S.SENT,
    "ringing": S.SENT,
    "answered": S.SENT,
    "in-progress": S.SENT,
    "completed": S.DELIVERED,
    "busy": RETRY,
    "no-answer": RETRY,
    "failed": S.FAILED,
    "canceled": S.FAILED,
}


def from_twilio(provider_status: str, *, call: bool) -> str | None:
    """Our status (or RETRY) for a Twilio message or call status; None for one we do not
    know (logged and left alone by the webhook)."""
    return (TWILIO_CALL if call else TWILIO_MESSAGE).get(provider_status.strip().lower())


def lower_ranks(status: str) -> list[str]:
    """The statuses a message may move to `status` from."""
    return [s for s, rank in RANK.items() if rank < RANK[status]]
