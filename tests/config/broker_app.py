"""A Celery app with no Django, on the embedded broker, for tests/config/test_broker.py.

HERALD_TEST_BROKER_DIR names the broker folder; HERALD_TEST_STOCK=1 uses kombu's own
filesystem transport instead of config.broker's. Tasks leave files in that folder's `out/`.
"""

import os
import time
from pathlib import Path

from celery import Celery

ROOT = Path(os.environ["HERALD_TEST_BROKER_DIR"])
OUT = ROOT / "out"
OPTIONS = {
    "data_folder_in": str(ROOT / "queue"),
    "data_folder_out": str(ROOT / "queue"),
    "control_folder": str(ROOT / "control"),
    "unacked_folder": str(ROOT / "unacked"),
    "bad_folder": str(ROOT / "bad"),
}
for key in ("data_folder_in", "control_folder"):
    os.makedirs(OPTIONS[key], exist_ok=True)
OUT.mkdir(exist_ok=True)

app = Celery("broker_test", broker="filesystem://")
app.conf.update(
    broker_transport=None if os.environ.get("HERALD_TEST_STOCK") else "config.broker:Transport",
    broker_transport_options=OPTIONS,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)


@app.task(name="touch")
def touch(name: str) -> None:
    (OUT / name).write_text(str(os.getpid()))


@app.task(name="hold")
def hold(name: str) -> None:
    """Record each start, then wait until the test writes `<name>.release`."""
    with (OUT / f"{name}.starts").open("a") as f:
        f.write(f"{os.getpid()}\n")
    while not (OUT / f"{name}.release").exists():
        time.sleep(0.05)
    (OUT / name).write_text(str(os.getpid()))
