"""Provider calls in flight (#12): a send task keeps several at once, on a bounded pool.

Twilio's API takes 100-300 ms a call, so a process making one call at a time sends a few
messages a second however fast the rest is. The send loop (messaging/sending.py) stays on
one thread and does every database step itself: the checks, the sender's pace, the fence
right before the call, and the recording of the outcome. Only the provider call runs on the
pool's threads, and a call is started only when a thread is free, so it begins right after
its fence. What a call returned or raised is handed back to the loop's thread, which decides
what it means (a back-off, an opt-out: database writes).

A backend whose send() may touch the database (`Backend.concurrent` is False: the voice
backend asks the conversations app for the call's parameters) is called on the loop's own
thread, one call at a time, as before; so is every call when the pool has one slot
(HERALD_SEND_CONCURRENCY=1).
"""

from __future__ import annotations

from concurrent import futures
from typing import TYPE_CHECKING

from django.db import connections

from .backends import Backend, SendResult, get_backend

if TYPE_CHECKING:
    from .models import Message

Answer = SendResult | Exception  # what send() returned, or what it raised


def _call(backend: Backend, message: Message) -> Answer:
    try:
        return backend.send(message)
    except Exception as exc:  # handed back: the loop's thread decides what it means
        return exc


def _call_on_thread(backend: Backend, message: Message) -> Answer:
    try:
        return _call(backend, message)
    finally:
        # A backend that read the database after all must not leave the thread's connection
        # open behind it (the pool's threads end with the batch).
        connections.close_all()


class ProviderCalls:
    """Up to `size` provider calls at once; their answers come back through `finished()`."""

    def __init__(self, size: int):
        self.size = max(size, 1)
        self._pool = (
            futures.ThreadPoolExecutor(self.size, thread_name_prefix="herald-send")
            if self.size > 1
            else None
        )
        self._running: dict[futures.Future, Message] = {}
        self._answered: list[tuple[Message, Answer]] = []

    def __enter__(self) -> ProviderCalls:
        return self

    def __exit__(self, *exc_info) -> None:
        # Calls already made finish first. Their answers were all taken unless the loop
        # raised: then their rows stay `sending` for the sweeper, as a crashed worker's do.
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    @property
    def running(self) -> int:
        return len(self._running)

    def free(self) -> bool:
        return len(self._running) < self.size

    def on_threads(self, message: Message) -> bool:
        """Whether the message's call runs on a thread (else here, when it starts)."""
        return self._pool is not None and get_backend(message.channel).concurrent

    def room(self) -> int:
        """How many calls may start now."""
        return self.size - len(self._running)

    def start(self, message: Message, *, here: bool = False) -> None:
        """Make the message's provider call now: on a free thread, or here when its backend
        must not run on one or the caller says so. Call only when `free()`."""
        backend = get_backend(message.channel)
        if here or self._pool is None or not backend.concurrent:
            self._answered.append((message, _call(backend, message)))
            return
        if not self.free():
            raise RuntimeError("no free slot: the call would wait after its fence")
        self._running[self._pool.submit(_call_on_thread, backend, message)] = message

    def finished(self, *, wait: bool = False) -> list[tuple[Message, Answer]]:
        """The calls that have returned since the last look; with `wait`, first waits for at
        least one when some are running and none has returned."""
        if wait and self._running and not self._answered:
            futures.wait(self._running, return_when=futures.FIRST_COMPLETED)
        for future in [f for f in self._running if f.done()]:
            self._answered.append((self._running.pop(future), future.result()))
        answered, self._answered = self._answered, []
        return answered

    def all_finished(self) -> list[tuple[Message, Answer]]:
        """Wait for every running call; the answers not yet handed back."""
        futures.wait(self._running)
        return self.finished()
