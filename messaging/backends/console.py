"""The console backend: logs each message and reports it delivered at once (development, tests)."""

import logging
import uuid

from . import Backend, ReconcileResult, SendResult

logger = logging.getLogger("herald.console")


class ConsoleBackend(Backend):
    name = "console"

    def send(self, message) -> SendResult:
        provider_id = f"console-{uuid.uuid4().hex}"
        logger.info(
            "%s to %s from %s: %s",
            message.channel,
            message.to_address,
            message.sender.address if message.sender_id and message.sender else "-",
            (message.subject + " | " if message.subject else "") + message.body[:200],
        )
        return SendResult(provider_message_id=provider_id, status="delivered")

    def reconcile(self, message) -> ReconcileResult:
        # The console never loses a message: if one is `unknown` it was logged or not at all,
        # and there is no record to ask, so it is treated as not sent.
        return ReconcileResult(status="not_found")
