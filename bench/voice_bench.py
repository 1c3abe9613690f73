"""Benchmark: AI voice call turns under gunicorn on PostgreSQL, the model answering in 500 ms.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/herald_bench .venv/bin/python \
        bench/voice_bench.py [--calls 50] [--turns 5] [--model-ms 500] [--runs 3]

It migrates the database, makes one workspace with a conversing agent, a voice campaign and
one placed call (a sent voice message) per contact, starts the fake OpenAI-compatible server
in its own process (answering every request after --model-ms) and gunicorn with
deploy/gunicorn.conf.py as the README deploys it (HERALD_WEB_WORKERS 4 x HERALD_WEB_THREADS 16,
gthread), bound to loopback, with DATABASE_CONN_MAX_AGE --conn-max-age (0 by default: a
connection per request; 600 keeps each thread's). Then all calls at once, each on its own
thread and keep-alive connection, play as Twilio would: the signed answer webhook (turn 0:
the opening inside <Gather>), then --turns signed turns with speech, each after the previous
answer and the contact's speaking (--speak-ms, 1,000 to 2,000 ms at random: Twilio posts a
turn once the contact has finished speaking), the calls starting within --ramp-ms of each
other (50 calls in progress at once, not 50 requests in the same millisecond).

It reports, per turn with a model call, the time Herald adds beyond the model: the turn's wall
time at the client minus the model call's own time as Herald measured it around the call
(VoiceTurn.model_ms); the same from gunicorn's access log (%(D)s: from the parsed request to
the response written, so without the client's side, the connection's queue, or the work
after the answer); and the wall time minus the fake's fixed delay (an upper bound that counts
the openai client's own work as Herald's); turn 0 (no model) whole; p50/p95/p99 of each; the
CPU of gunicorn (the work after each answer included) and PostgreSQL per request (its
backends alive at the end of the run: with a connection per request most have exited, so
only --conn-max-age gives PostgreSQL's figure). Target: added p99 <= 150 ms.
"""

import argparse
import http.client
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from loadgen import children, cpu_seconds, database_backends, wait_for

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOKEN = "bench-auth-token-0123456789abcdef"
SPEECH = [
    "Yes, I have a minute",
    "Friday works for me",
    "What time was it again?",
    "Three in the afternoon is fine",
    "Can I bring my daughter along?",
    "Thanks, that's all",
]


def configure(port: int, llm_port: int, conn_max_age: int, access_log: str) -> dict:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
        "DJANGO_DEBUG": "0",
        "HERALD_HTTPS": "0",
        "HERALD_LOG_LEVEL": "ERROR",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "HERALD_LLM_BASE_URL": f"http://127.0.0.1:{llm_port}/v1",
        "HERALD_LLM_MODEL": "fake-model",
        "HERALD_LLM_API_KEY": "fake-openai-key",
        "HERALD_LLM_TIMEOUT_SECONDS": "10",
        "HERALD_BIND": f"127.0.0.1:{port}",
        "HERALD_ACCESS_LOG": access_log,
        "DATABASE_CONN_MAX_AGE": str(conn_max_age),
    }
    os.environ.update(env)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (it is written to).")
    return env


def migrate() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def prepare(calls: int) -> list[tuple[int, str]]:
    """A voice campaign with `calls` placed calls: (message id, sid) of each."""
    from django.utils import timezone

    from accounts.models import Workspace
    from campaigns.models import Campaign
    from contacts.models import Contact
    from conversations.models import Agent
    from messaging.models import Message

    Workspace.objects.filter(slug="voice-bench").delete()
    workspace = Workspace.objects.create(name="Voice bench", slug="voice-bench")
    agent = Agent.objects.create(
        workspace=workspace,
        name="Ava",
        instructions="Confirm Friday's appointment at 3 pm; answer questions briefly.",
        opening_message="Hi {{first_name}}, this is Ava. Can we confirm Friday?",
        max_call_seconds=600,
    )
    campaign = Campaign.objects.create(
        workspace=workspace, name="Bench calls", channel="voice", agent=agent
    )
    contacts = Contact.objects.bulk_create(
        Contact(workspace=workspace, first_name=f"Ann{i}", phone=f"+1415556{i:04d}")
        for i in range(calls)
    )
    stamp = int(time.time())
    messages = Message.objects.bulk_create(
        Message(
            workspace=workspace,
            campaign=campaign,
            contact=contact,
            channel="voice",
            to_address=contact.phone,
            body=f"Hi {contact.first_name}, this is Ava. Can we confirm Friday?",
            status="sent",
            sent_at=timezone.now(),
            provider_message_id=f"CA{stamp:010x}{i:022x}",
        )
        for i, contact in enumerate(contacts)
    )
    return [(m.pk, m.provider_message_id) for m in messages]


class Caller(threading.Thread):
    """One call: the answer webhook, then `turns` turns, each after the previous answer."""

    def __init__(self, port, message_id, sid, turns, start, validator, speak, ramp):
        super().__init__(daemon=True)
        self.speak, self.ramp = speak, ramp
        self.port, self.message_id, self.sid, self.turns = port, message_id, sid, turns
        self.start_event, self.validator = start, validator
        self.timings: list[tuple[int, float, int]] = []  # (turn, seconds, status)
        self.error = ""

    def post(self, connection, path: str, params: dict) -> tuple[float, int, bytes]:
        url = f"http://127.0.0.1:{self.port}{path}"
        body = urlencode(params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": self.validator.compute_signature(url, params),
        }
        started = time.perf_counter()
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        content = response.read()
        return time.perf_counter() - started, response.status, content

    def run(self):
        base = {
            "CallSid": self.sid,
            "AccountSid": "AC" + "0" * 32,
            "From": "+14155559999",
            "To": "+14155550000",
            "CallStatus": "in-progress",
            "Direction": "outbound-api",
        }
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.start_event.wait()
        time.sleep(random.uniform(0, self.ramp))
        try:
            path = f"/webhooks/twilio/voice/answer?m={self.message_id}"
            seconds, status, content = self.post(connection, path, base | {"AnsweredBy": "human"})
            self.timings.append((0, seconds, status))
            for turn in range(1, self.turns + 1):
                if b"<Gather" not in content:
                    self.error = f"turn {turn}: no Gather in {content[:200]!r}"
                    return
                time.sleep(random.uniform(*self.speak))  # the contact speaks
                path = f"/webhooks/twilio/voice/turn?m={self.message_id}&t={turn}"
                speech = {"SpeechResult": SPEECH[turn % len(SPEECH)], "Confidence": "0.9"}
                seconds, status, content = self.post(connection, path, base | speech)
                self.timings.append((turn, seconds, status))
        except Exception as exc:  # noqa: BLE001 (reported, the run fails)
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    if not values:
        return "-"

    def at(q):
        return values[min(int(len(values) * q), len(values) - 1)]

    return (
        f"p50 {statistics.median(values):6.1f}  p95 {at(0.95):6.1f}  p99 {at(0.99):6.1f}"
        f"  max {values[-1]:6.1f}"
    )


def warm_up(port: int, timeout: float = 120.0) -> None:
    """Until every worker has loaded the app: /healthz answers, many times over."""
    deadline, answered = time.monotonic() + timeout, 0
    while answered < 40 and time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            answered += 1
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()


ACCESS_FORMAT = "%(r)s %(s)s %(D)s"  # request line, status, microseconds
REQUEST = re.compile(
    r"POST /webhooks/twilio/voice/(answer|turn)\?m=(\d+)(?:&t=(\d+))? \S+ 200 (\d+)"
)


def served_ms(access_log: str, offset: int) -> dict[tuple[str, int], float]:
    """gunicorn's own time for each answer and turn logged past `offset`, (message id, turn)
    → ms: from the parsed request to the response written (gthread logs it before closing
    the body, so without the work after the answer), without the client's side of it."""
    found = {}
    with open(access_log, encoding="utf-8") as log:
        log.seek(offset)
        for line in log:
            if match := REQUEST.search(line):
                kind, message_id, turn, micros = match.groups()
                number = 0 if kind == "answer" else int(turn)
                found[(message_id, number)] = int(micros) / 1000
    return found


def one_run(args, run: int) -> dict:
    from twilio.request_validator import RequestValidator

    calls = prepare(args.calls)
    start = threading.Event()
    validator = RequestValidator(TOKEN)
    speak = (args.speak_ms / 1000, 2 * args.speak_ms / 1000)
    callers = [
        Caller(args.port, m, sid, args.turns, start, validator, speak, args.ramp_ms / 1000)
        for m, sid in calls
    ]
    for caller in callers:
        caller.start()
    log_start = Path(args.access_log).stat().st_size
    workers, backends = children(args.gunicorn_pid), database_backends()
    cpu_app, cpu_db = cpu_seconds(workers), cpu_seconds(backends)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    start.set()
    for caller in callers:
        caller.join(120)
    elapsed = time.perf_counter() - started
    cpu_app = cpu_seconds(workers) - cpu_app
    cpu_db = cpu_seconds(database_backends()) - cpu_db  # backends opened during the run too

    from conversations.models import VoiceTurn

    model_ms = {
        (call_sid, number): ms
        for call_sid, number, ms in VoiceTurn.objects.filter(
            call__call_sid__in=[sid for _, sid in calls]
        ).values_list("call__call_sid", "number", "model_ms")
    }
    server_ms = served_ms(args.access_log, log_start)
    message_sid = {str(m): sid for m, sid in calls}
    server_beyond, server_opening = [], []
    for (message_id, turn), ms in server_ms.items():
        if (sid := message_sid.get(message_id)) is None:
            continue
        if turn == 0:
            server_opening.append(ms)
        elif (measured := model_ms.get((sid, turn))) is not None:
            server_beyond.append(ms - measured)
    errors = [c.error for c in callers if c.error]
    statuses: dict[int, int] = {}
    opening, beyond_model, beyond_delay, model = [], [], [], []
    for caller in callers:
        for turn, seconds, status in caller.timings:
            statuses[status] = statuses.get(status, 0) + 1
            wall = seconds * 1000
            if turn == 0:
                opening.append(wall)
                continue
            measured = model_ms.get((caller.sid, turn))
            if measured is not None:
                model.append(measured)
                beyond_model.append(wall - measured)
            beyond_delay.append(wall - args.model_ms)
    turns = len(opening) + len(beyond_delay)
    return {
        "elapsed": elapsed,
        "turns": turns,
        "errors": errors,
        "statuses": statuses,
        "opening": opening,
        "beyond_model": beyond_model,
        "server_beyond": server_beyond,
        "server_opening": server_opening,
        "beyond_delay": beyond_delay,
        "model": model,
        "cpu_app": cpu_app,
        "cpu_db": cpu_db,
        "load": load_before,
    }


def serve_fake_model(port: int, delay: float) -> None:
    """The fake OpenAI-compatible server, answering every request after `delay` s, until
    SIGTERM."""
    from tests.fakes.openai import FakeOpenAI, decision

    llm = FakeOpenAI(port=port).start()
    llm.set_default(
        lambda body: decision("reply", "Sure. Anything else I can help with?", delay=delay)
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    llm.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--model-ms", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--speak-ms", type=int, default=1000)
    parser.add_argument("--ramp-ms", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8201)
    parser.add_argument("--llm-port", type=int, default=8202)
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=0,
        help="DATABASE_CONN_MAX_AGE of gunicorn (0, the default: a connection per request)",
    )
    parser.add_argument("--serve-fake-model", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake_model:
        serve_fake_model(args.llm_port, args.model_ms / 1000)
        return

    args.access_log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (gunicorn writes it)
        prefix="voice-bench-", suffix=".log", delete=False
    ).name
    env = configure(args.port, args.llm_port, args.conn_max_age, args.access_log)
    migrate()
    # The fake model in its own process: in this one it would wait for the callers' threads
    # (the interpreter lock), and that wait would count as the model's time.
    llm = subprocess.Popen(
        [sys.executable, __file__, "--serve-fake-model", "--llm-port", str(args.llm_port),
         "--model-ms", str(args.model_ms)],
        cwd=ROOT,
    )  # fmt: skip
    wait_for(args.llm_port)
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "deploy/gunicorn.conf.py",
         "--access-logformat", ACCESS_FORMAT],
        cwd=ROOT,
        env={**os.environ, **env},
    )  # fmt: skip
    args.gunicorn_pid = gunicorn.pid
    ok = True
    try:
        wait_for(args.port)
        warm_up(args.port)
        one_run(args, -1)  # not measured: each worker imports and connects on first use
        for run in range(args.runs):
            result = one_run(args, run)
            n = max(result["turns"], 1)
            if result["errors"]:
                print(f"  ERRORS ({len(result['errors'])}): {result['errors'][:3]}")
            print(f"run {run + 1}: {args.calls} calls x {args.turns} turns at once, {n} requests "
                  f"in {result['elapsed']:.1f} s, HTTP {result['statuses']}, load average "
                  f"{result['load']:.1f} on {os.cpu_count()} cores at the start")  # fmt: skip
            print(f"  model call ms (Herald's clock)        {percentiles(result['model'])}")
            print(f"  added ms beyond the model call        {percentiles(result['beyond_model'])}")
            print(f"    of which in gunicorn (its log)      {percentiles(result['server_beyond'])}")
            print(f"  added ms beyond the fake's {args.model_ms} ms     "
                  f"{percentiles(result['beyond_delay'])}")  # fmt: skip
            print(f"  turn 0 (opening, no model) ms         {percentiles(result['opening'])}")
            print(
                f"    of which in gunicorn (its log)      {percentiles(result['server_opening'])}"
            )
            print(f"  cpu ms per request: gunicorn {1000 * result['cpu_app'] / n:.1f}, "
                  f"postgres {1000 * result['cpu_db'] / n:.1f}")  # fmt: skip
            added = sorted(result["beyond_model"]) or [float("inf")]
            p99 = added[min(int(len(added) * 0.99), len(added) - 1)]
            ok = ok and not result["errors"] and set(result["statuses"]) == {200}
            ok = ok and len(result["model"]) == args.calls * args.turns
            print(f"  target added p99 <= 150 ms: {'met' if p99 <= 150 else 'MISSED'} ({p99:.1f})")
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        try:
            gunicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
        llm.terminate()
        llm.wait(timeout=30)
        os.unlink(args.access_log)
    print("result: OK" if ok else "result: FAILED REQUESTS")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
