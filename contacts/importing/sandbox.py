"""Reading an upload safely: in a child process with limits (#13).

A crafted file can make a parser ask for more than the machine has: a 1.6 KB .xlsx holding
only A1 and XFD1048576 makes calamine allocate 512 GiB, and the Rust runtime then aborts the
whole process. So no Herald process parses an upload in its own memory: the worker task that
inspects an upload (jobs.py `import_job_read`; the web side never reads one) calls `read_head`,
which starts `python -m contacts.importing.sandbox`; the child limits its own address space
and CPU time before it reads anything, reads the file's headers and first rows with the
ordinary readers, and answers in JSON on stdout. The parent also bounds the wall-clock time.
A child that dies, runs out of memory or time, becomes a clear ImportFileError; nothing is
kept of the upload.

The child imports the readers only (no Django), so it starts in a tenth of a second. The
Celery worker that runs a confirmed import reads the file itself: it only gets files the
child read with the same options.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from .errors import ImportFileError

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]  # where `contacts` is importable from
OUTPUT_BUDGET = 4 * 1024 * 1024  # characters of cells the child sends back at most
UNREADABLE = "This file could not be read"
MEMORY_EXIT = 3  # the child's exit status after a MemoryError


@dataclass
class Head:
    """What the web side needs of a file: its shape and first rows, as the readers give them."""

    headers: list[str]
    rows: list[tuple[int, list[str], str | None]] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""
    sheet: str = ""
    sheets: list[str] | None = None


def read_head(
    path: str | Path,
    fmt: str,
    *,
    has_header: bool = True,
    sheet: str = "",
    encoding: str = "",
    delimiter: str = "",
    rows: int = 0,
) -> Head:
    """The file's headers and up to `rows` first rows, read in a limited child process."""
    from django.conf import settings

    limits = {
        "memory": settings.HERALD_IMPORT_READ_MEMORY,
        "cpu": settings.HERALD_IMPORT_READ_CPU_SECONDS,
    }
    request = {
        "path": str(path), "fmt": fmt, "has_header": has_header, "sheet": sheet,
        "encoding": encoding, "delimiter": delimiter, "rows": rows, "limits": limits,
    }  # fmt: skip
    wall = settings.HERALD_IMPORT_READ_WALL_SECONDS
    try:
        done = subprocess.run(
            [sys.executable, "-m", "contacts.importing.sandbox"],
            input=json.dumps(request).encode(),
            capture_output=True,
            cwd=ROOT,
            env={**os.environ, "RUST_BACKTRACE": "0"},
            timeout=wall,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # run() has killed the child
        raise ImportFileError(
            f"{UNREADABLE}: reading it took longer than {wall:g} seconds, far more than a "
            "contacts file needs. Nothing was imported."
        ) from exc
    return _answer(done)


def _answer(done: subprocess.CompletedProcess) -> Head:
    if done.returncode == 0:
        try:
            answer = json.loads(done.stdout)
        except ValueError:
            answer = {}
        if "error" in answer:
            raise ImportFileError(answer["error"])
        if "head" in answer:
            head = answer["head"]
            head["rows"] = [tuple(row) for row in head["rows"]]
            return Head(**head)
    stderr = done.stderr.decode(errors="replace")[:2000]
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        reason = "reading it needs more computing time than an import may use"
    elif done.returncode in (-signal.SIGABRT, -signal.SIGSEGV, MEMORY_EXIT) or (
        "memory allocation" in stderr
    ):
        reason = "reading it needs more memory than an import may use"
    else:
        reason = "the reader stopped unexpectedly"
    logger.warning("Import reader exited with %s: %s", done.returncode, stderr)
    raise ImportFileError(
        f"{UNREADABLE}: {reason}. It may be damaged, or made to overload a server. "
        "Nothing was imported."
    )


# --- the child ------------------------------------------------------------------------------


def _limit(memory: int, cpu: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU, then SIGKILL
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _read(request: dict) -> dict:
    from .readers import open_table

    try:
        with open_table(
            request["path"], request["fmt"], has_header=request["has_header"],
            sheet=request["sheet"], encoding=request["encoding"], delimiter=request["delimiter"],
        ) as table:  # fmt: skip
            rows, budget = [], OUTPUT_BUDGET
            for number, cells, error in islice(table.rows, request["rows"]):
                budget -= sum(map(len, cells))
                if budget < 0:
                    break
                rows.append((number, cells, error))
            head = Head(
                headers=table.headers, rows=rows, encoding=table.encoding,
                delimiter=table.delimiter, sheet=table.sheet, sheets=table.sheets,
            )  # fmt: skip
    except ImportFileError as exc:
        return {"error": exc.message}
    return {"head": head.__dict__}


def main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    _limit(request["limits"]["memory"], request["limits"]["cpu"])
    try:
        answer = _read(request)
    except MemoryError:
        sys.exit(MEMORY_EXIT)
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
