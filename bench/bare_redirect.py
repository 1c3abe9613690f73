"""The baseline of bench/redirect_bench.py: a WSGI application that answers every request
with the same 302 and does nothing else, served by gunicorn with Herald's worker settings."""

HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Length", "0"),
    ("Location", "https://shop.example.com/landing?utm_source=herald"),
]


def application(environ, start_response):
    start_response("302 Found", HEADERS)
    return [b""]
