"""A local HTTP server that plays Twilio's REST API (Messages and Calls) for the real client.

A call it created can then be played like a phone call: see tests/fakes/twilio_calls.py.

It records every request, answers in Twilio's JSON shapes, keeps the messages and calls it
created (so the list endpoints can be used for reconciliation) and can be told to fail the
next create with a status and a Twilio error code, optionally *after* creating the resource
(a 500 whose message nevertheless went out), or to hang past the client's timeout, and to fail
the next list requests (`fail_next_list`). Like Twilio, a message it created is `queued` with
no `date_sent` (Twilio sets it when the message leaves its queue), so a list filtered on
DateSent does not show it.
"""

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from django.utils import timezone

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "fake-twilio-auth-token-0123456789"


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, list[str]]
    query: dict[str, list[str]]
    at: float = field(default_factory=time.time)  # when it arrived (rates per second)

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


@dataclass
class Failure:
    status: int
    code: int | None = None
    message: str = "Injected failure"
    after_create: bool = False
    hang_seconds: float = 0.0
    retry_after: int | None = None  # the Retry-After header of a 429


@dataclass
class FakeTwilioState:
    requests: list[Recorded] = field(default_factory=list)
    messages: dict[str, dict] = field(default_factory=dict)
    calls: dict[str, dict] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    # The account's own numbers (IncomingPhoneNumbers); None: every number is the account's.
    phone_numbers: set[str] | None = None
    list_failures: list[Failure] = field(default_factory=list)
    # A 429 storm: creates answer 429 for `length` seconds in every `period` (from `start`).
    storm: tuple[float, float, float, int] | None = None  # (start, period, length, retry_after)
    latency: float = 0.0  # seconds each create takes to answer (Twilio's API takes 100-300 ms)
    # Creates being answered right now, and the most there were at once (a sender that keeps
    # several calls in flight shows here).
    in_flight: int = 0
    max_in_flight: int = 0
    # The first creates wait (up to 10 s) until this many have been in flight at once: a test
    # sees calls overlap without depending on timing. 0: no waiting.
    gather: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self):
        self.arrived = threading.Condition(self.lock)


def _rfc2822(moment) -> str:
    return format_datetime(moment, usegmt=True)


class _Handler(BaseHTTPRequestHandler):
    state: FakeTwilioState  # set on the subclass per server

    def log_message(self, *args):  # keep test output quiet
        pass

    def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorised(self) -> bool:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        return self.headers.get("Authorization") == f"Basic {expected}"

    def _record(self) -> Recorded:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        recorded = Recorded(self.command, url.path, parse_qs(raw), parse_qs(url.query))
        with self.state.lock:
            self.state.requests.append(recorded)
        return recorded

    def do_GET(self):  # noqa: N802
        recorded = self._record()
        if not self._authorised():
            return self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
        path = recorded.path
        base = f"/2010-04-01/Accounts/{ACCOUNT_SID}/"
        if path == base + "IncomingPhoneNumbers.json":
            wanted = recorded.query.get("PhoneNumber", [""])[0]
            owned = self.state.phone_numbers
            rows = [] if owned is not None and wanted not in owned else [_number(wanted)]
            return self._json(200, _page("incoming_phone_numbers", path, rows))
        if path in (base + "Messages.json", base + "Calls.json"):
            with self.state.lock:
                failure = self.state.list_failures.pop(0) if self.state.list_failures else None
            if failure:
                return self._error(failure)
            store = self.state.messages if "Messages" in path else self.state.calls
            key = "messages" if "Messages" in path else "calls"
            with self.state.lock:  # creates add to the store while this reads it
                stored = list(store.values())
            rows = [r for r in stored if _matches(r, recorded.query)]
            rows.sort(key=lambda r: r["_created"], reverse=True)
            return self._json(200, _page(key, path, [_public(r) for r in rows]))
        for store, prefix in ((self.state.messages, "Messages/"), (self.state.calls, "Calls/")):
            if path.startswith(base + prefix):
                sid = path[len(base + prefix) :].removesuffix(".json")
                if sid in store:
                    return self._json(200, _public(store[sid]))
        return self._json(404, {"code": 20404, "message": "Not found", "status": 404})

    def do_POST(self):  # noqa: N802
        recorded = self._record()
        with self.state.arrived:
            self.state.in_flight += 1
            self.state.max_in_flight = max(self.state.max_in_flight, self.state.in_flight)
            self.state.arrived.notify_all()
            if self.state.gather and not self.state.arrived.wait_for(
                lambda: self.state.max_in_flight >= self.state.gather, timeout=10
            ):
                self.state.gather = 0  # they never overlapped: stop making the others wait
        try:
            self._create(recorded)
        finally:
            with self.state.lock:
                self.state.in_flight -= 1

    def _create(self, recorded: Recorded) -> None:
        if not self._authorised():
            return self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
        base = f"/2010-04-01/Accounts/{ACCOUNT_SID}/"
        if recorded.path.startswith(base + "Calls/"):  # a call's update
            return self._call_update(recorded, recorded.path[len(base + "Calls/") :])
        if recorded.path not in (base + "Messages.json", base + "Calls.json"):
            return self._json(404, {"code": 20404, "message": "Not found", "status": 404})
        with self.state.lock:
            failure = self.state.failures.pop(0) if self.state.failures else None
            storm = self.state.storm
        if self.state.latency:
            time.sleep(self.state.latency)
        if storm and (time.monotonic() - storm[0]) % storm[1] < storm[2]:
            return self._error(Failure(429, message="Too Many Requests", retry_after=storm[3]))
        if failure and failure.hang_seconds:
            time.sleep(failure.hang_seconds)
        if failure and not failure.after_create:
            return self._error(failure)
        if not recorded.param("To") or not recorded.param("From"):
            return self._json(400, {"code": 21604, "message": "'To' is required", "status": 400})
        resource = (
            _message(recorded) if recorded.path.endswith("Messages.json") else _call(recorded)
        )
        store = self.state.messages if resource["sid"].startswith("SM") else self.state.calls
        with self.state.lock:
            store[resource["sid"]] = resource
        if failure:
            return self._error(failure)
        return self._json(201, _public(resource))

    def _call_update(self, recorded: Recorded, name: str) -> None:
        """POST /Calls/{sid}.json: the running call gets new TwiML (or a URL, or a status);
        CallPlayer runs it in place of what it was running."""
        sid = name.removesuffix(".json")
        with self.state.lock:
            failure = self.state.failures.pop(0) if self.state.failures else None
            call = self.state.calls.get(sid)
            if failure is None and call is not None:
                call.setdefault("_updates", []).append(
                    {key: recorded.param(key) for key in ("Twiml", "Url", "Status")}
                )
        if failure:
            return self._error(failure)
        if call is None:
            return self._json(404, {"code": 20404, "message": "Not found", "status": 404})
        return self._json(200, _public(call))

    def _error(self, failure: Failure) -> None:
        code = failure.code or (20429 if failure.status == 429 else 20500)
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
        self._json(
            failure.status,
            {
                "code": code,
                "message": failure.message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": failure.status,
            },
            headers,
        )


def _matches(resource: dict, query: dict[str, list[str]]) -> bool:
    for name in ("To", "From"):
        if name in query and resource[name.lower()] != query[name][0]:
            return False
    if "DateSent>" in query:
        since = query["DateSent>"][0][:10]
        sent = resource.get("_sent")
        if sent is None or sent.date().isoformat() < since:
            return False
    return True


def _page(key: str, path: str, rows: list[dict]) -> dict:
    return {
        key: rows,
        "end": max(len(rows) - 1, 0),
        "first_page_uri": path + "?PageSize=50&Page=0",
        "next_page_uri": None,
        "page": 0,
        "page_size": 50,
        "previous_page_uri": None,
        "start": 0,
        "uri": path,
    }


def _public(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if not k.startswith("_")}


def _number(number: str) -> dict:
    sid = "PN" + secrets.token_hex(16)
    return {
        "account_sid": ACCOUNT_SID,
        "capabilities": {"sms": True, "voice": True, "mms": False, "fax": False},
        "friendly_name": number,
        "phone_number": number,
        "sid": sid,
        "status": "in-use",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers/{sid}.json",
    }


def _message(recorded: Recorded) -> dict:
    now = timezone.now()
    sid = "SM" + secrets.token_hex(16)
    return {
        "_created": now,
        "_status_callback": recorded.param("StatusCallback"),
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": recorded.param("Body") or "",
        "date_created": _rfc2822(now),
        "date_sent": None,  # set when the message leaves Twilio's queue
        "date_updated": _rfc2822(now),
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": recorded.param("From"),
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {},
        "to": recorded.param("To"),
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }


def _call(recorded: Recorded) -> dict:
    now = timezone.now()
    sid = "CA" + secrets.token_hex(16)
    return {
        "_created": now,
        "_status_callback": recorded.param("StatusCallback"),
        "_events": recorded.params.get("StatusCallbackEvent", []),
        "_url": recorded.param("Url"),
        "_twiml": recorded.param("Twiml"),
        "_machine_detection": recorded.param("MachineDetection"),
        "_async_amd": recorded.param("AsyncAmd") == "true",
        "_amd_callback": recorded.param("AsyncAmdStatusCallback"),
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "date_created": _rfc2822(now),
        "date_updated": _rfc2822(now),
        "direction": "outbound-api",
        "from": recorded.param("From"),
        "sid": sid,
        "status": "queued",
        "to": recorded.param("To"),
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json",
    }


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the listen backlog: a burst of parallel connects is not dropped


class FakeTwilio:
    """Start with `FakeTwilio().start()`; `base_url` is what TWILIO_API_BASE_URL gets."""

    def __init__(self, port: int = 0):
        self.state = FakeTwilioState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = _Server(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeTwilio":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        """Forget requests, messages and calls (between benchmark rounds); faults stay."""
        with self.state.lock:
            self.state.requests.clear()
            self.state.messages.clear()
            self.state.calls.clear()
            self.state.max_in_flight = self.state.in_flight

    def add(self, kind: str, *, to: str, from_: str, status: str, body: str = "") -> str:
        """A message ("Messages") or call ("Calls") the account already holds, in `status`,
        as reconciliation finds it; returns its sid."""
        params = {"To": [to], "From": [from_], "Body": [body]}
        recorded = Recorded("POST", f"/{kind}.json", params, {})
        resource = _message(recorded) if kind == "Messages" else _call(recorded)
        resource["status"] = status
        if kind == "Messages" and status not in ("queued", "accepted", "scheduled"):
            resource["_sent"] = resource["_created"]
            resource["date_sent"] = resource["date_created"]
        with self.state.lock:
            (self.state.messages if kind == "Messages" else self.state.calls)[resource["sid"]] = (
                resource
            )
        return resource["sid"]

    def fail_next(self, status: int, code: int | None = None, **kwargs) -> None:
        with self.state.lock:
            self.state.failures.append(Failure(status=status, code=code, **kwargs))

    def start_storm(self, *, period: float, length: float, retry_after: int = 1) -> None:
        """From now on, every create answers 429 (Retry-After) for `length` s in each `period`."""
        with self.state.lock:
            self.state.storm = (time.monotonic(), period, length, retry_after)

    def fail_next_list(self, status: int, code: int | None = None, times: int = 1) -> None:
        """The next `times` list requests (Messages or Calls) answer `status`."""
        with self.state.lock:
            self.state.list_failures += [Failure(status=status, code=code)] * times

    def creates(self, kind: str = "Messages") -> list[Recorded]:
        return [
            r for r in self.state.requests if r.method == "POST" and r.path.endswith(kind + ".json")
        ]

    @property
    def messages(self) -> dict[str, dict]:
        return self.state.messages

    @property
    def calls(self) -> dict[str, dict]:
        return self.state.calls
