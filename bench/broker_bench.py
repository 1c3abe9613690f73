"""Benchmark: the embedded default's broker against the alternatives it was chosen over.

    .venv/bin/python bench/broker_bench.py [--messages 2000] [--idle 20] [--runs 3]

For each transport it publishes N Celery-sized messages from one process, then a consumer in
another process fetches and acknowledges them (as a worker does); it reports messages/s and
CPU per message of both sides; then it measures a consumer's CPU while the queue is empty
(a worker that waits all day). Transports: `config.broker` (this repo), kombu's stock
`filesystem`, and kombu's `sqla+sqlite` (only if SQLAlchemy is installed: it is not a
dependency; `pip install sqlalchemy` into a scratch venv to compare). Everything runs in a
temporary folder; nothing listens on the network.
"""

import argparse
import contextlib
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BODY = {"task": "messaging.tasks.send_batch", "args": [list(range(200))], "kwargs": {}}


def _connection(kind: str, folder: str):
    from kombu import Connection

    if kind == "sqla":
        return Connection(f"sqla+sqlite:///{folder}/broker.sqlite3")
    for name in ("queue", "control"):
        os.makedirs(os.path.join(folder, name), exist_ok=True)
    options = {
        "data_folder_in": f"{folder}/queue",
        "data_folder_out": f"{folder}/queue",
        "control_folder": f"{folder}/control",
        "unacked_folder": f"{folder}/unacked",
    }
    transport = "config.broker:Transport" if kind == "herald" else None
    return Connection("filesystem://", transport=transport, transport_options=options)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _consume(kind: str, folder: str, count: int, idle: float, out) -> None:
    with _connection(kind, folder) as conn:
        queue = conn.SimpleQueue("celery", serializer="json")
        queue.channel.connection.client.transport_options["polling_interval"] = 1.0
        cpu0, wall0 = _cpu(), time.monotonic()
        for _ in range(count):
            queue.get(timeout=120).ack()
        cpu1, wall1 = _cpu(), time.monotonic()
        with_empty = time.monotonic() + idle
        while time.monotonic() < with_empty:  # a waiting worker: poll an empty queue
            with contextlib.suppress(queue.Empty):
                queue.get(timeout=max(with_empty - time.monotonic(), 0.01))
        out.put((wall1 - wall0, cpu1 - cpu0, _cpu() - cpu1))
        queue.close()


def run_once(kind: str, count: int, idle: float) -> dict:
    from kombu.transport import filesystem, virtual

    # Declared exchanges are remembered per process; each run has new folders to declare in.
    filesystem.Transport.global_state = virtual.BrokerState()
    with tempfile.TemporaryDirectory() as folder:
        with _connection(kind, folder) as conn:  # create tables / folders before timing
            conn.SimpleQueue("celery").close()
        with _connection(kind, folder) as conn:
            queue = conn.SimpleQueue("celery", serializer="json")
            cpu0, wall0 = _cpu(), time.monotonic()
            for _ in range(count):
                queue.put(BODY)
            publish_wall, publish_cpu = time.monotonic() - wall0, _cpu() - cpu0
            queue.close()
        out = mp.get_context("spawn").Queue()
        consumer = mp.get_context("spawn").Process(
            target=_consume, args=(kind, folder, count, idle, out)
        )
        consumer.start()
        consume_wall, consume_cpu, idle_cpu = out.get(timeout=600)
        consumer.join(60)
    return {
        "publish/s": count / publish_wall,
        "publish CPU µs/msg": publish_cpu / count * 1e6,
        "consume/s": count / consume_wall,
        "consume CPU µs/msg": consume_cpu / count * 1e6,
        "idle CPU ms/s": idle_cpu / idle * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of empty-queue polling")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    kinds = ["herald", "stock"]
    try:
        import sqlalchemy  # noqa: F401

        kinds.append("sqla")
    except ImportError:
        print("(SQLAlchemy not installed: sqla+sqlite skipped)")
    for kind in kinds:
        runs = [run_once(kind, args.messages, args.idle) for _ in range(args.runs)]
        print(f"{kind}: {args.messages} messages x {args.runs} runs (median [min-max])")
        for key in runs[0]:
            values = [r[key] for r in runs]
            print(
                f"  {key:20} {statistics.median(values):10.1f} "
                f"[{min(values):.1f}-{max(values):.1f}]"
            )


if __name__ == "__main__":
    main()
