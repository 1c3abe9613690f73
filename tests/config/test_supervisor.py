"""`make run`'s supervisor (config/supervisor.py) with a real Celery worker on the embedded
broker: a killed worker comes back and the terminal says so; Ctrl-C and the death of make stop
everything."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = (
    f"{sys.executable} -m celery -A tests.config.broker_app worker --pool=solo --loglevel=INFO "
    "--without-gossip --without-mingle --without-heartbeat"
)
IDLE = f"{sys.executable} -c 'import time\nwhile True: time.sleep(1)'"


class Supervisor:
    def __init__(self, tmp_path: Path, *extra: str):
        self.log = tmp_path / "supervisor.log"
        env = {**os.environ, "HERALD_TEST_BROKER_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
        env.pop("DJANGO_SETTINGS_MODULE", None)  # the test app has no Django
        self.process = subprocess.Popen(
            [sys.executable, "-m", "config.supervisor", *extra, f"worker={WORKER}",
             f"web={IDLE}"],
            cwd=ROOT, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := re.search(pattern, self.output(), re.MULTILINE):
                return match
            time.sleep(0.05)
        pytest.fail(f"{pattern!r} not seen; output:\n{self.output()[-4000:]}")

    def pids(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for name, pid in re.findall(r"\| started (\w+) \(pid (\d+)\)", self.output()):
            found.setdefault(name, []).append(int(pid))
        return found


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_gone(pids: list[int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not all(_gone(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running: {pids}"
        time.sleep(0.05)


@pytest.fixture
def supervisors():
    started: list[Supervisor] = []
    yield started
    for supervisor in started:
        if supervisor.process.poll() is None:
            os.killpg(supervisor.process.pid, signal.SIGKILL)
        for pids in supervisor.pids().values():
            for pid in pids:
                if not _gone(pid):
                    os.killpg(pid, signal.SIGKILL)


def test_killed_worker_is_restarted_and_the_terminal_says_so(tmp_path, supervisors):
    supervisors.append(supervisor := Supervisor(tmp_path))
    supervisor.wait_for(r"^.* worker +\| .* ready\.")
    first = supervisor.pids()["worker"][0]
    os.kill(first, signal.SIGKILL)
    supervisor.wait_for(r"supervisor +\| worker died \(killed by SIGKILL\) after \d+s; restarting")
    supervisor.wait_for(r"supervisor +\| worker restarted \(restart #1\)")
    second = supervisor.pids()["worker"][1]
    assert second != first and _gone(first)
    supervisor.wait_for(r"ready\.[\s\S]*ready\.")  # the new worker is up too
    from tests.config.test_broker import _send

    _send(tmp_path, "touch", "after-restart")
    deadline = time.monotonic() + 60
    while not (tmp_path / "out" / "after-restart").exists():
        assert time.monotonic() < deadline, supervisor.output()[-4000:]
        time.sleep(0.05)
    assert (tmp_path / "out" / "after-restart").read_text() == str(second)
    assert supervisor.pids()["web"] == supervisor.pids()["web"][:1]  # the others untouched


def test_ctrl_c_stops_everything(tmp_path, supervisors):
    supervisors.append(supervisor := Supervisor(tmp_path))
    supervisor.wait_for(r"ready\.")
    pids = [pid for found in supervisor.pids().values() for pid in found]
    os.kill(supervisor.process.pid, signal.SIGINT)
    assert supervisor.process.wait(30) == 0
    _wait_gone(pids)
    assert "stopping everything (SIGINT)" in supervisor.output()


def test_death_of_the_watched_process_stops_everything(tmp_path, supervisors):
    make = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        supervisors.append(supervisor := Supervisor(tmp_path, "--watch-pid", str(make.pid)))
        supervisor.wait_for(r"ready\.")
        pids = [pid for found in supervisor.pids().values() for pid in found]
        make.kill()
        make.wait(10)
        assert supervisor.process.wait(30) == 0
        _wait_gone(pids)
        assert f"stopping everything (process {make.pid} ended)" in supervisor.output()
    finally:
        make.kill()


def test_bad_specification_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "config.supervisor", "no-command-here"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "expected NAME=COMMAND" in result.stderr
