"""The embedded broker (config/broker.py) against the ways kombu's own filesystem transport
loses a worker or a task: a half-written message file, an unreadable one, a killed worker."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from queue import Empty

import pytest
from celery import Celery
from kombu import Connection
from kombu.transport import filesystem, virtual

from config import broker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_broker_state(monkeypatch):
    # Declared exchanges are remembered per process (a class attribute); each test has its
    # own folders, so each needs its own memory of them.
    monkeypatch.setattr(broker.Transport, "global_state", virtual.BrokerState())
    monkeypatch.setattr(filesystem.Transport, "global_state", virtual.BrokerState())


def _connection(folder: Path, transport) -> Connection:
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "unacked_folder": str(folder / "unacked"),
        "bad_folder": str(folder / "bad"),
    }
    (folder / "queue").mkdir(parents=True, exist_ok=True)
    return Connection("filesystem://", transport=transport, transport_options=options)


def _payload(channel, text: str) -> dict:
    message = channel.prepare_message(text, content_type="text/plain")
    channel._inplace_augment_message(message, "", "q")
    return message


def test_stock_transport_reads_a_message_file_before_it_is_written(tmp_path, monkeypatch):
    """kombu issue #1551, made deterministic: the consumer fetches in the moment between the
    producer creating the file and writing it, and gets JSONDecodeError (which stops a worker)."""
    with _connection(tmp_path, filesystem.Transport) as conn:
        producer, consumer = conn.channel(), conn.channel()
        seen = []
        real_lock = filesystem.lock

        def lock_then_fetch(file, flags):
            real_lock(file, flags)
            if flags == filesystem.LOCK_EX and not seen:
                try:
                    seen.append(consumer._get("q"))
                except Exception as exc:
                    seen.append(exc)

        monkeypatch.setattr(filesystem, "lock", lock_then_fetch)
        producer._put("q", _payload(producer, "hello"))
        assert type(seen[0]).__name__ == "JSONDecodeError"


def test_message_is_invisible_until_written_whole(tmp_path, monkeypatch):
    with _connection(tmp_path, broker.Transport) as conn:
        producer, consumer = conn.channel(), conn.channel()
        seen = []
        real_replace = os.replace

        def fetch_then_replace(src, dst):
            try:
                seen.append(consumer._get("q"))
            except Empty as exc:
                seen.append(exc)
            real_replace(src, dst)

        monkeypatch.setattr(broker.os, "replace", fetch_then_replace)
        producer._put("q", _payload(producer, "hello"))
        assert isinstance(seen[0], Empty)  # the half-written file is not a message yet
        assert consumer._get("q")["body"] == _payload(producer, "hello")["body"]


@pytest.mark.parametrize("content", [b"", b'{"body": "half', b"\xff\xfe", b"[1, 2]"])
def test_unreadable_message_is_set_aside_and_the_next_is_delivered(tmp_path, content):
    with _connection(tmp_path, broker.Transport) as conn:
        channel = conn.channel()
        (tmp_path / "queue" / "00_bad.q.msg").write_bytes(content)
        channel._put("q", _payload(channel, "after"))
        payload = channel._get("q")
        assert payload["body"] == _payload(channel, "after")["body"]
        assert (tmp_path / "bad" / "00_bad.q.msg").read_bytes() == content
        with pytest.raises(Empty):
            channel._get("q")


def test_acknowledged_message_leaves_nothing_behind(tmp_path):
    with _connection(tmp_path, broker.Transport) as conn:
        queue = conn.SimpleQueue("q")
        queue.put({"n": 1})
        message = queue.get(timeout=5)
        assert list((tmp_path / "unacked").glob("*/*.msg"))  # claimed, not gone
        message.ack()
        queue.close()
    assert not list((tmp_path / "unacked").glob("*/*.msg"))
    assert not list((tmp_path / "queue").iterdir())


def test_unacknowledged_message_goes_back_on_close(tmp_path):
    with _connection(tmp_path, broker.Transport) as conn:
        queue = conn.SimpleQueue("q")
        queue.put({"n": 1})
        assert queue.get(timeout=5).payload == {"n": 1}
        queue.close()
    with _connection(tmp_path, broker.Transport) as conn:
        queue = conn.SimpleQueue("q")
        message = queue.get(timeout=5)
        assert message.payload == {"n": 1}
        message.ack()
        queue.close()
    assert not list((tmp_path / "unacked").glob("*/*.msg"))


def test_dead_consumers_claims_are_recovered_and_live_ones_are_not(tmp_path):
    with _connection(tmp_path, broker.Transport) as conn:
        alive, dead, fresh = conn.channel(), conn.channel(), conn.channel()
        for n in (1, 2):
            alive._put("q", _payload(alive, f"m{n}"))
        assert alive._get("q") and dead._get("q")
        dead._claim_lock.close()  # what the kernel does when its process dies
        assert fresh._get("q")  # the dead consumer's claim is back in the queue,
        with pytest.raises(Empty):  # the live one's is left alone
            fresh._get("q")
        assert len(list((tmp_path / "unacked").glob("*/*.msg"))) == 2


def _worker(tmp_path: Path, log: Path, stock: bool = False) -> subprocess.Popen:
    env = {**os.environ, "HERALD_TEST_BROKER_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("HERALD_TEST_STOCK", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the test app has no Django
    # Celery's environment variable beats the app's broker=: with it (make test sets it) the
    # worker would read the suite's Redis queue and its tasks instead of the test's folder.
    env.pop("CELERY_BROKER_URL", None)
    if stock:
        env["HERALD_TEST_STOCK"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.config.broker_app", "worker",
         "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _wait(condition, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out; worker log:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.05)


def _send(tmp_path: Path, name: str, *args: str) -> None:
    app = Celery("broker_test", broker="filesystem://")
    app.conf.broker_transport = "config.broker:Transport"
    app.conf.broker_transport_options = _connection(tmp_path, None).transport_options
    app.send_task(name, args=args)


@pytest.fixture
def workers():
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def test_stock_worker_stops_on_an_empty_message_file(tmp_path, workers):
    """The crash under `make run`, reproduced with kombu's own transport."""
    log = tmp_path / "worker.log"
    (tmp_path / "queue").mkdir()
    (tmp_path / "queue" / "00_empty.celery.msg").write_bytes(b"")
    workers.append(process := _worker(tmp_path, log, stock=True))
    _wait(lambda: process.poll() is not None, process, log)
    assert "Unrecoverable error: JSONDecodeError" in log.read_text(errors="replace")


def test_worker_survives_an_empty_message_file(tmp_path, workers):
    log = tmp_path / "worker.log"
    (tmp_path / "queue").mkdir()
    (tmp_path / "queue" / "00_empty.celery.msg").write_bytes(b"")
    workers.append(process := _worker(tmp_path, log))
    _send(tmp_path, "touch", "done")
    _wait(lambda: (tmp_path / "out" / "done").exists(), process, log)
    assert process.poll() is None
    assert (tmp_path / "bad" / "00_empty.celery.msg").exists()


def test_task_of_a_killed_worker_runs_again_in_the_next(tmp_path, workers):
    log = tmp_path / "worker.log"
    workers.append(first := _worker(tmp_path, log))
    _send(tmp_path, "hold", "job")
    starts = tmp_path / "out" / "job.starts"
    _wait(starts.exists, first, log)
    os.killpg(first.pid, signal.SIGKILL)  # a crash: no ack, no restore
    first.wait(10)
    (tmp_path / "out" / "job.release").touch()
    workers.append(second := _worker(tmp_path, tmp_path / "worker2.log"))
    _wait(lambda: (tmp_path / "out" / "job").exists(), second, tmp_path / "worker2.log")
    pids = starts.read_text().split()
    assert len(pids) == 2 and pids[0] == str(first.pid)
    assert (tmp_path / "out" / "job").read_text() == str(second.pid)
