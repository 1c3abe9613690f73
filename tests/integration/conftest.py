"""A real Celery worker for integration tests.

`celery_worker` starts `celery -A config worker` in a subprocess with
DJANGO_SETTINGS_MODULE=config.test_settings, pointed at pytest-django's *test* database (the
subprocess gets a DATABASE_URL built from the live connection settings, so it sees the rows the
test commits) and at the broker in CELERY_BROKER_URL (Redis in CI). Tests using it must use
`transactional_db` (it is requested here): the worker only sees committed data.

    def test_something(celery_worker):
        worker = celery_worker()                 # start one (waits until it is ready)
        ...enqueue tasks, poll the database...
        worker.kill()                            # SIGKILL the whole process group
        celery_worker(concurrency=2)             # a prefork worker with two pool children
        worker = celery_worker(env={"X": "1"})   # start another, with extra environment

Every worker started is stopped (SIGTERM, then SIGKILL) when the test ends. Media files go to
the test process's MEDIA_ROOT so both sides see uploaded files.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    if "postgresql" not in db["ENGINE"]:
        pytest.fail("Integration tests need PostgreSQL: set DATABASE_URL=postgres://…")
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or "5432"
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


class Worker:
    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 0):
        self.log = log
        self._log_file = log.open("wb")
        pool = (
            ["--pool=prefork", f"--concurrency={concurrency}"] if concurrency else ["--pool=solo"]
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", *pool,
             "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill() takes every child
        )  # fmt: skip

    def wait_ready(self, timeout: float = 120) -> "Worker":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"Celery worker exited early:\n{self.output()}")
            if b" ready." in self.log.read_bytes():
                return self
            time.sleep(0.1)
        pytest.fail(f"Celery worker not ready after {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_bytes().decode(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL the worker's whole process group: no cleanup, no ack, like a crash."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    from config.celery import app

    workers: list[Worker] = []
    base_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "HERALD_MEDIA_ROOT": str(django_settings.MEDIA_ROOT),
        "PYTHONPATH": str(ROOT),
    }
    app.control.purge()  # messages left by an earlier run must not reach this test's worker

    def start(env: dict[str, str] | None = None, *, concurrency: int = 0) -> Worker:
        log = tmp_path / f"worker-{len(workers)}.log"
        worker = Worker({**base_env, **(env or {})}, log, concurrency)
        workers.append(worker)
        return worker.wait_ready()

    yield start
    for worker in workers:
        worker.stop()
