"""Debian's nginx with deploy/nginx/herald.conf in front of gunicorn (deploy/gunicorn.conf.py).

The probes of issue 13 (item 6), on loopback: 60 slow-body connections from one client, and an
unauthenticated 150 MB POST to /login/ (declared and chunked). The site keeps answering another
client, and nothing large reaches gunicorn or its temporary directory. The configuration is the
shipped file, rendered for loopback ports and a throw-away certificate; every loop is bounded.
"""

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from .conftest import ROOT

MB = 1024 * 1024
ATTACKER, USER = "127.0.0.1", "127.0.0.2"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} not ready after {timeout}s")


def render(template: str, values: dict[str, str]) -> str:
    """envsubst limited to the HERALD_ variables, as the README renders it."""
    return re.sub(r"\$\{(HERALD_[A-Z_]+)\}", lambda m: values[m.group(1)], template)


class FrontDoor:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        # HERALD_FRONT_DOOR_PORTS="8133,8134,8135" pins the ports (a shared machine), else free
        # ones are picked.
        pinned = os.environ.get("HERALD_FRONT_DOOR_PORTS", "")
        ports = [int(p) for p in pinned.split(",")] if pinned else [free_port() for _ in range(3)]
        self.gunicorn_port, self.http_port, self.https_port = ports
        self.gunicorn_tmp = tmp / "gunicorn-tmp"
        self.gunicorn_tmp.mkdir()
        self.access_log = tmp / "gunicorn-access.log"
        self.processes: list[subprocess.Popen] = []
        self._certificate()
        self._start_gunicorn()
        self._start_nginx()

    def _certificate(self):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=localhost", "-keyout", self.tmp / "key.pem",
             "-out", self.tmp / "cert.pem"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def _start_gunicorn(self):
        env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "DJANGO_SETTINGS_MODULE": "config.settings",  # production settings, debug off
            "DJANGO_SECRET_KEY": "front-door-test-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "HERALD_BEHIND_PROXY": "1",
            "HERALD_VAR_DIR": str(self.tmp / "var"),
            "HERALD_BIND": f"127.0.0.1:{self.gunicorn_port}",
            "HERALD_WEB_WORKERS": "1",
            "HERALD_WEB_THREADS": "4",
            "HERALD_ACCESS_LOG": str(self.access_log),
            "TMPDIR": str(self.gunicorn_tmp),
            "PYTHONPATH": str(ROOT),
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self._spawn(
            [gunicorn, "config.wsgi", "--config", ROOT / "deploy" / "gunicorn.conf.py"],
            env, self.tmp / "gunicorn.log",
        )  # fmt: skip
        # Generous: on a loaded machine Django's first import alone can take half a minute.
        wait_for(lambda: self._direct_status("/healthz") == 200, "gunicorn", timeout=120)

    def _start_nginx(self):
        site = render(
            (ROOT / "deploy" / "nginx" / "herald.conf").read_text(),
            {
                "HERALD_SERVER_NAME": "localhost",
                "HERALD_UPSTREAM": f"127.0.0.1:{self.gunicorn_port}",
                "HERALD_TLS_CERT": str(self.tmp / "cert.pem"),
                "HERALD_TLS_KEY": str(self.tmp / "key.pem"),
                "HERALD_HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
                "HERALD_HTTPS_LISTEN": f"127.0.0.1:{self.https_port}",
                "HERALD_UPLOAD_MAX_BODY": "101m",
            },
        )
        (self.tmp / "herald.conf").write_text(site)
        t = self.tmp
        (t / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {t}/nginx.pid;\n"
            f"error_log {t}/nginx-error.log warn;\nevents {{ worker_connections 512; }}\n"
            f"http {{\n access_log {t}/nginx-access.log;\n client_body_temp_path {t}/body;\n"
            f" proxy_temp_path {t}/proxy;\n fastcgi_temp_path {t}/fastcgi;\n"
            f" uwsgi_temp_path {t}/uwsgi;\n scgi_temp_path {t}/scgi;\n"
            f" include {t}/herald.conf;\n}}\n"
        )
        command = [NGINX, "-p", str(t), "-c", str(t / "nginx.conf"), "-e", str(t / "nginx.err")]
        check = subprocess.run([*command, "-t"], capture_output=True, timeout=30)
        assert check.returncode == 0, check.stderr.decode()
        self._spawn(command, dict(os.environ), t / "nginx.log")
        wait_for(lambda: self._port_open(self.https_port), "nginx", timeout=60)

    def _spawn(self, command, env, log: Path):
        process = subprocess.Popen(
            [str(part) for part in command], cwd=ROOT, env=env, stdout=log.open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)

    @staticmethod
    def _port_open(port: int) -> bool:
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    def _direct_status(self, path: str) -> int | None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.gunicorn_port, timeout=5)
            conn.request("GET", path, headers={"Host": "localhost"})
            return conn.getresponse().status
        except OSError:
            return None

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    # --- clients ---------------------------------------------------------------------------
    def tls_socket(self, source: str) -> ssl.SSLSocket:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", self.https_port), 10, (source, 0))
        return context.wrap_socket(raw, server_hostname="localhost")

    def get(self, path: str, *, source: str = USER, method: str = "GET", body: bytes = b""):
        """A normal request over https from another client address: (status, body)."""
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, timeout=20, source_address=(source, 0), context=context
        )
        headers = {"Host": "localhost", "Content-Type": "application/x-www-form-urlencoded"}
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    def reached_gunicorn(self, pattern: str) -> bool:
        return pattern in self.access_log.read_text()


@pytest.fixture(scope="module")
def front_door():
    """One nginx and gunicorn for the module. No probe reaches the database: gunicorn gets
    the embedded SQLite default in its own var/ directory."""
    if not os.path.exists(NGINX):
        pytest.fail("nginx not found: apt-get install nginx-light (.ci/run installs it).")
    tmp = Path(tempfile.mkdtemp(prefix="herald-front-door-"))
    tmp.chmod(0o755)  # nginx's workers (nobody, when run as root) create temp files below
    door = FrontDoor(tmp)
    try:
        yield door
    finally:
        door.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def read_status(sock: socket.socket, timeout: float) -> int | None:
    sock.settimeout(timeout)
    try:
        head = sock.recv(4096)
    except (TimeoutError, ssl.SSLWantReadError):
        return None
    except OSError:
        return -1
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(match.group(1)) if match else -1


def send_until_answered(sock: ssl.SSLSocket, head: bytes, total: int, *, chunked: bool):
    """Send the head, then up to `total` body bytes in 64 KB pieces until the server answers
    or hangs up. Returns (status, bytes of body sent)."""
    sock.sendall(head)
    piece, sent = b"x" * (64 * 1024), 0
    while sent < total:
        status = read_status(sock, 0.001)
        if status is not None:
            return status, sent
        data = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
        try:
            sock.sendall(data)
        except OSError:
            break
        sent += len(piece)
    return read_status(sock, 20), sent


def test_nginx_answers_over_https_with_forwarded_proto(front_door):
    status, body = front_door.get("/login/")
    # Production settings redirect plain http: a 200 means Django saw X-Forwarded-Proto https.
    assert status == 200 and b"Log in to Herald" in body
    conn = http.client.HTTPConnection("127.0.0.1", front_door.http_port, timeout=10)
    conn.request("GET", "/login/", headers={"Host": "localhost"})
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == "https://localhost/login/"


def test_slow_bodies_from_one_client_do_not_take_the_site_down(front_door):
    attack, slow, stop = [], [], threading.Event()

    def trickle():
        """A byte every 2 s on each connection: never idle long enough for a timeout."""
        deadline = time.monotonic() + 90
        while not stop.wait(2) and time.monotonic() < deadline:
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(b"0")

    dripper = threading.Thread(target=trickle, daemon=True)
    refused: set[int] = set()

    def all_heads_read() -> bool:
        """nginx has read every head once it refused those past its cap of 32 at once."""
        for i, sock in enumerate(attack):
            if i not in refused and read_status(sock, 0.01) == 429:
                refused.add(i)
        return len(refused) >= len(attack) - 32

    try:
        for _ in range(60):
            sock = front_door.tls_socket(ATTACKER)
            # A body that never finishes: nginx waits for it; gunicorn never hears of it.
            sock.sendall(
                b"POST /webhooks/twilio/status HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 60000\r\n\r\nMessageSid=SM"
            )
            attack.append(sock)
        wait_for(all_heads_read, "nginx refusing the connections past 32")
        slow.extend(sock for i, sock in enumerate(attack) if i not in refused)
        dripper.start()  # from here on only the dripper touches the attacker's sockets
        # Another client is served meanwhile, webhooks included.
        assert front_door.get("/login/")[0] == 200
        assert front_door.get("/healthz")[1].startswith(b"ok\n")
        status, _ = front_door.get("/webhooks/twilio/status", method="POST", body=b"a=1")
        assert status == 403  # Django answered: unsigned
    finally:
        stop.set()
        if dripper.is_alive():
            dripper.join(10)
    for sock in attack:
        sock.close()
    assert not front_door.reached_gunicorn("MessageSid")
    assert front_door.get("/login/")[0] == 200


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_150_mb_login_post_is_refused_before_anything_spools_it(front_door, chunked):
    size = 150 * MB
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % size
    head = (
        b"POST /login/ HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: multipart/form-data; boundary=xyz\r\n" + framing + b"\r\n\r\n"
    )
    sock = front_door.tls_socket(ATTACKER)
    try:
        status, _ = send_until_answered(sock, head, size, chunked=chunked)
    finally:
        sock.close()
    assert status == 413
    assert not front_door.reached_gunicorn("POST /login/")
    assert not any(front_door.gunicorn_tmp.iterdir())
    assert front_door.get("/login/")[0] == 200


def test_gunicorn_alone_refuses_the_150_mb_post_unread(front_door):
    """Without nginx (a misconfigured deployment), Herald's WSGI guard still answers 413."""
    with socket.create_connection(("127.0.0.1", front_door.gunicorn_port), 10) as sock:
        sock.sendall(
            b"POST /login/ HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: multipart/form-data; boundary=xyz\r\n"
            b"Content-Length: %d\r\n\r\n" % (150 * MB)
        )
        sock.sendall(b"x" * (256 * 1024))
        assert read_status(sock, 20) == 413
    assert not any(front_door.gunicorn_tmp.iterdir())


def test_upload_paths_take_files_that_other_paths_refuse(front_door):
    """The upload's 401 comes before Herald reads the body: the WSGI guard reads the rest
    after answering, else gunicorn's close resets the socket nginx is still writing the body
    to, and nginx answers 502 (it did, on a loaded machine)."""
    body = b"x" * (12 * MB)
    # The JSON API's default limit (10 MB) at the edge...
    assert front_door.get("/api/v1/contacts", method="POST", body=body)[0] == 413
    # ...while an upload path lets the file through to Herald (which wants an API key).
    assert front_door.get("/api/v1/contacts/upload", method="POST", body=body)[0] == 401
