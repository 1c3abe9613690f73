"""How messaging tells the apps above it about its events without importing them (issue 11).

Messaging is the outbox beneath campaigns, conversations and engagement, so it never imports
them. `settings.HERALD_MESSAGING_HOOKS` names, for each event, the functions to call (dotted
paths, called in order, each with keyword arguments):

    HERALD_MESSAGING_HOOKS = {
        "inbound": ["conversations.hooks.inbound_received"],
        "status": [],
        "requeued": ["campaigns.hooks.messages_requeued"],
        "call": ["conversations.voice.call_parameters"],
        "limit_reached": ["campaigns.hooks.send_limit_reached"],
    }

inbound(inbound: InboundMessage)
    An inbound message was stored (once per provider id: a replayed webhook is no event),
    with its keyword already applied: `inbound.action` is opt_out / opt_in / help for a
    keyword, "" for anything else. A hook that answers queues its reply in the outbox
    (`messaging.outbox.message_enqueue`) and may set the action to `agent_reply`.

status(changes: list[StatusChange])
    Messages reached sent, delivered, read, undelivered or failed: through the send loop, a
    provider's status callback (the WSGI fast path included) or reconciliation. One call per
    batch; a message may appear in several calls as it moves on, never twice with a status.

requeued(message_ids: list[int])
    Messages whose send had an unknown outcome, and that the provider says it never got, went
    back to the queue (reconciliation): whatever counted them as finished must reopen.

call(message: Message) -> dict | None
    A voice message is about to be placed. The first hook that answers a dict gives the Calls
    API parameters that replace the inline TwiML (`url` to fetch it from, `machine_detection`,
    `status_callback`…); None for every hook means the call says its message and hangs up.
    Unlike the others, it runs before messaging's change (in the send loop, per call) and its
    answer is used; a hook that raises is logged and skipped.

limit_reached(run_ids: list[int], reason: str)
    A workspace reached its daily send limit (messaging/guards.py): these runs' messages went
    back to the queue unsent, and whatever sends them should stop until a person says so.
    `reason` says which limit, for people.

A hook runs after messaging's change is committed, in the caller's process (a webhook request,
a send task, the tick): keep it short and hand slow work to a Celery task. An exception in a
hook is logged and swallowed: messaging's work is already committed and the provider's retry
would not repeat the event, so failing the request would only make things worse.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import NamedTuple

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

logger = logging.getLogger("herald.hooks")

EVENTS = ("inbound", "status", "requeued", "call", "limit_reached")
# The statuses a `status` hook hears about: the ones a provider or a person can see.
REPORTED = frozenset({"sent", "delivered", "read", "undelivered", "failed"})


class StatusChange(NamedTuple):
    message_id: int
    status: str


@cache
def hooks_for(event: str) -> tuple:
    """The functions registered for `event` (imported once; an unknown event is a bug)."""
    if event not in EVENTS:
        raise ValueError(f"Unknown messaging event {event!r}; one of {', '.join(EVENTS)}.")
    paths = getattr(settings, "HERALD_MESSAGING_HOOKS", {}).get(event, ())
    return tuple(import_string(path) for path in paths)


def _reset(*, setting: str, **kwargs) -> None:
    if setting == "HERALD_MESSAGING_HOOKS":
        hooks_for.cache_clear()


setting_changed.connect(_reset)


def fire(event: str, **kwargs) -> None:
    """Call every hook of `event`; one that raises is logged and the others still run."""
    for hook in hooks_for(event):
        try:
            hook(**kwargs)
        except Exception:
            logger.exception("Messaging hook %r failed on the %s event", hook, event)


def ask(event: str, **kwargs):
    """The first answer other than None of `event`'s hooks, in order; a hook that raises is
    logged and skipped."""
    for hook in hooks_for(event):
        try:
            answer = hook(**kwargs)
        except Exception:
            logger.exception("Messaging hook %r failed on the %s event", hook, event)
            continue
        if answer is not None:
            return answer
    return None


def statuses_changed(changes) -> None:
    """Fire `status` for the (message id, status) pairs that a hook hears about."""
    if not hooks_for("status"):
        return  # the hot paths pay nothing when no app listens
    reported = [StatusChange(int(i), s) for i, s in changes if s in REPORTED]
    if reported:
        fire("status", changes=reported)
