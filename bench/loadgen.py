"""What the HTTP benchmarks share: a keep-alive load generator on loopback (asyncio, raw
HTTP/1.1 requests prepared in advance), and the CPU time of processes from /proc."""

import asyncio
import os
import sys
import time
from pathlib import Path


async def read_response(reader) -> tuple[int, bool]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length, close = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


async def _client(queue: list[bytes], port: int, latencies: list[float], statuses: dict):
    reader = writer = None
    while queue:
        request = queue.pop()
        for _attempt in range(3):
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.perf_counter()
            try:
                writer.write(request)
                status, close = await read_response(reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                writer.close()
                reader = writer = None
                continue
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            if close:
                writer.close()
                reader = writer = None
            break
    if writer is not None:
        writer.close()


async def load(requests: list[bytes], port: int, concurrency: int):
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    await asyncio.gather(*(_client(queue, port, latencies, statuses) for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def cpu_seconds(pids) -> float:
    """User + system CPU of these processes so far (Linux /proc), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def database_backends() -> list[int]:
    """The PostgreSQL backends serving the current database, but this process's own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def wait_for(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit("gunicorn did not start")
