"""The embedded default's broker: kombu's filesystem transport, made safe to crash.

Stock kombu (5.7) creates a message file and then writes into it, and a consumer may claim and
read it in between: it gets an empty or half-written file, `JSONDecodeError`, and the Celery
worker stops with "Unrecoverable error" (kombu issue #1551; a `make run` worker died this way
after about 30 minutes). It also deletes a message as soon as it is fetched, so a worker killed
in the middle of a task loses the task, acks_late or not. Here:

- a message is written under a temporary name and renamed into the queue folder, so a consumer
  only ever sees whole files (a rename within one filesystem is atomic);
- a consumer claims a file by renaming it into its own folder under `unacked/` and deletes it
  when the message is acknowledged. It holds an flock on that folder for its whole life; the
  kernel drops the lock when the process dies (kill -9 included), so a consumer that starts, or
  polls a minute later, puts a dead consumer's claimed messages back in the queue. That is
  at-least-once delivery, as Redis gives with acks_late: every task must stay idempotent;
- a file that still cannot be read (written by another program, a stock-kombu producer, a full
  disk) is moved to `bad/` and logged, never fatal.

Single host only, like the transport it extends. Production uses Redis.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import uuid
from contextlib import suppress
from queue import Empty

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)
RECOVER_EVERY = 60.0  # seconds between looks for a dead consumer's claimed messages
STALE_TMP = 3600.0  # a temporary file this old belongs to a writer that died mid-write


class QoS(virtual.QoS):
    """Deletes a claimed file once its message is acknowledged (or rejected, or restored)."""

    def ack(self, delivery_tag):
        super().ack(delivery_tag)
        self.channel.claim_release(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        super().reject(delivery_tag, requeue=requeue)  # a requeue writes a fresh copy first
        self.channel.claim_release(delivery_tag)

    def restore_unacked(self):
        tags = list(self._delivered)
        errors = super().restore_unacked()
        failed = {message.delivery_tag for _, message in errors}
        for tag in tags:
            if tag not in failed:  # unrestored ones stay claimed for the next consumer
                self.channel.claim_release(tag)
        return errors


class Channel(filesystem.Channel):
    QoS = QoS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._claims: dict[str, str] = {}  # delivery tag -> path of the claimed file
        self._listings: dict[str, list[str]] = {}  # queue -> names still to try, newest first
        self._no_ack_queues: set[str] = set()
        self._claim_dir: str | None = None
        self._claim_lock = None
        self._recovered_at = 0.0

    def _put(self, queue, payload, **kwargs):
        """Write the message whole under a temporary name, then rename it into the queue."""
        name = f"{time.time_ns():020d}_{uuid.uuid4().hex}.{queue}.msg"
        tmp = os.path.join(self.data_folder_out, f".{name}.tmp")
        try:
            with open(tmp, "xb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(tmp, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            with suppress(OSError):
                os.remove(tmp)
            raise ChannelError(f"Cannot add file {name!r} to the queue folder") from exc

    def _get(self, queue):
        """Claim the oldest whole message of `queue` (as of the last listing); set aside unreadable
        ones."""
        claim_dir = self._claim_folder()
        listing = self._listings.setdefault(queue, [])
        if not listing:  # list the folder once per backlog, not once per message
            wanted = f"{queue}.msg"
            names = (n for n in os.listdir(self.data_folder_in) if n.partition(".")[2] == wanted)
            listing.extend(sorted(names, reverse=True))
        while listing:
            name = listing.pop()
            claimed = os.path.join(claim_dir, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                with open(claimed, "rb") as f:
                    payload = loads(bytes_to_str(f.read()))
                tag = payload["properties"]["delivery_tag"]
            except (ValueError, KeyError, TypeError) as exc:  # JSON and UTF-8 errors included
                self._set_aside(claimed, exc)
                continue
            if queue in self._no_ack_queues:
                os.remove(claimed)  # nobody will acknowledge it (remote-control broadcasts)
            else:
                self._claims[tag] = claimed
            return payload
        raise Empty()

    def basic_consume(self, queue, no_ack, *args, **kwargs):
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_get(self, queue, no_ack=False, **kwargs):
        message = super().basic_get(queue, no_ack=no_ack, **kwargs)
        if no_ack and message is not None:
            self.claim_release(message.delivery_tag)
        return message

    def claim_release(self, delivery_tag) -> None:
        path = self._claims.pop(delivery_tag, None)
        if path is not None:
            with suppress(FileNotFoundError):
                os.remove(path)

    def close(self):
        super().close()  # restores unacknowledged messages, which releases their claims
        if self._claim_dir is not None and not self._claims:
            with suppress(OSError):
                os.remove(os.path.join(self._claim_dir, ".lock"))
                os.rmdir(self._claim_dir)
        if self._claim_lock is not None:
            self._claim_lock.close()
            self._claim_lock = None

    def _set_aside(self, path: str, exc: Exception) -> None:
        os.makedirs(self.bad_folder, exist_ok=True)
        target = os.path.join(self.bad_folder, os.path.basename(path))
        with suppress(OSError):
            os.replace(path, target)
        logger.error("Unreadable broker message set aside as %s: %s", target, exc)

    def _claim_folder(self) -> str:
        """This consumer's locked folder for claimed messages (made on its first fetch)."""
        now = time.monotonic()
        if now - self._recovered_at > RECOVER_EVERY:
            self._recovered_at = now
            self._recover()
        if self._claim_dir is None:
            os.makedirs(self.unacked_folder, exist_ok=True)
            # Locked under a hidden name first, so a recovering consumer never mistakes the
            # folder for a dead consumer's in the moment between creating and locking it.
            name = uuid.uuid4().hex
            hidden = os.path.join(self.unacked_folder, f".{name}")
            os.mkdir(hidden)
            lock = open(os.path.join(hidden, ".lock"), "wb")  # noqa: SIM115 (held for life)
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._claim_dir = os.path.join(self.unacked_folder, name)
            os.rename(hidden, self._claim_dir)
            self._claim_lock = lock
        return self._claim_dir

    def _recover(self) -> None:
        """Put messages claimed by dead consumers back; drop writers' stale temporary files."""
        with suppress(FileNotFoundError):
            for name in os.listdir(self.unacked_folder):
                if not name.startswith("."):
                    self._recover_folder(os.path.join(self.unacked_folder, name))
        cutoff = time.time() - STALE_TMP
        for name in os.listdir(self.data_folder_in):
            path = os.path.join(self.data_folder_in, name)
            if name.endswith(".tmp"):
                with suppress(OSError):
                    if os.stat(path).st_mtime < cutoff:
                        os.remove(path)

    def _recover_folder(self, folder: str) -> None:
        try:
            lock = open(os.path.join(folder, ".lock"), "rb")  # noqa: SIM115
        except OSError:
            return  # being removed by its owner or another recovering consumer
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # its consumer is alive
            names = [n for n in os.listdir(folder) if n.endswith(".msg")]
            for name in names:
                with suppress(FileNotFoundError):
                    os.rename(os.path.join(folder, name), os.path.join(self.data_folder_in, name))
            if names:
                logger.warning(
                    "%d message(s) of a stopped worker put back in the queue", len(names)
                )
            with suppress(OSError):
                os.remove(os.path.join(folder, ".lock"))
                os.rmdir(folder)

    @property
    def unacked_folder(self) -> str:
        default = os.path.join(self.data_folder_in, os.pardir, "unacked")
        return self.transport_options.get("unacked_folder", default)

    @property
    def bad_folder(self) -> str:
        default = os.path.join(self.data_folder_in, os.pardir, "bad")
        return self.transport_options.get("bad_folder", default)


class Transport(filesystem.Transport):
    Channel = Channel
