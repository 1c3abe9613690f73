"""`make run`'s process supervisor: start web, worker and beat, restart any that dies, say so.

    python -m config.supervisor [--watch-pid PID] NAME=COMMAND [NAME=COMMAND ...]

Each command runs in its own process group with its output prefixed by its name. When one
exits (a crash, a kill -9, an out-of-memory kill) the rest of its group is killed too (a
runserver reloader's child, a worker's pool) and it is started again after a pause that
grows while it keeps dying young, and the terminal says what happened. Ctrl-C or SIGTERM stops
them all (SIGTERM to each group, then SIGKILL after a grace period); so does the death of
--watch-pid: make does not pass its signal on, so killing make alone must stop everything too.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field

GRACE_SECONDS = 10.0  # for a stopping process to finish its task before SIGKILL
HEALTHY_AFTER = 30.0  # a process that ran this long is restarted at once when it dies
MAX_DELAY = 30.0
_print_lock = threading.Lock()


def say(name: str, text: str) -> None:
    with _print_lock:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name:<10} | {text}\n")
        sys.stdout.flush()


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    quick_deaths: int = 0
    restart_at: float | None = None
    readers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,  # its own group: we signal it and its children
        )  # fmt: skip
        self.started_at = time.monotonic()
        self.restart_at = None
        reader = threading.Thread(target=self._relay, args=(self.process,), daemon=True)
        reader.start()
        self.readers = [reader]
        say("supervisor", f"started {self.name} (pid {self.process.pid})")

    def _relay(self, process: subprocess.Popen) -> None:
        for raw in iter(process.stdout.readline, b""):
            say(self.name, raw.decode(errors="replace").rstrip("\n"))

    def signal_group(self, sig: int) -> None:
        if self.process is not None:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)

    def check(self, now: float) -> None:
        """Notice a death and schedule the restart; restart when it is due."""
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            ran = now - self.started_at
            self.signal_group(signal.SIGKILL)  # whatever it left behind in its group
            self.process = None
            self.quick_deaths = self.quick_deaths + 1 if ran < HEALTHY_AFTER else 0
            delay = min(MAX_DELAY, 2.0**self.quick_deaths) if self.quick_deaths else 1.0
            self.restart_at = now + delay
            say(
                "supervisor",
                f"{self.name} died ({describe_exit(code)}) after {ran:.0f}s; "
                f"restarting it in {delay:.0f}s",
            )
        if self.process is None and self.restart_at is not None and now >= self.restart_at:
            self.restarts += 1
            self.start()
            say("supervisor", f"{self.name} restarted (restart #{self.restarts})")


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def parse_children(specs: list[str]) -> list[Child]:
    children = []
    for spec in specs:
        name, sep, command = spec.partition("=")
        if not sep or not name or not command.strip():
            raise SystemExit(f"supervisor: expected NAME=COMMAND, got {spec!r}")
        children.append(Child(name=name, argv=shlex.split(command)))
    return children


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_all(children: list[Child]) -> None:
    running = [c for c in children if c.process is not None and c.process.poll() is None]
    for child in running:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for child in running:
        try:
            child.process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            say("supervisor", f"{child.name} did not stop in {GRACE_SECONDS:.0f}s: killing it")
        child.signal_group(signal.SIGKILL)  # the group's stragglers, even if the leader exited
    for child in children:
        for reader in child.readers:
            reader.join(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run and supervise Herald's processes.")
    parser.add_argument("--watch-pid", type=int, help="stop everything when this process ends")
    parser.add_argument("children", nargs="+", metavar="NAME=COMMAND")
    args = parser.parse_args(argv)
    children = parse_children(args.children)
    stopping = threading.Event()
    reason: list[str] = []

    def on_signal(signum, frame):
        reason.append(signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for child in children:
        child.start()
    while not stopping.wait(0.5):
        if args.watch_pid and not alive(args.watch_pid):
            reason.append(f"process {args.watch_pid} ended")
            break
        now = time.monotonic()
        for child in children:
            child.check(now)
    say("supervisor", f"stopping everything ({reason[0]})")
    stop_all(children)
    say("supervisor", "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
