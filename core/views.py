from datetime import UTC

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache

from .heartbeat import background_alert, background_status


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """The web process answers ("ok"); the second line says whether the background runs.

    Always 200 while the web process serves, so a load balancer keeps it in rotation when only
    the worker is down; /healthz/background is the one to alert on.
    """
    return HttpResponse(f"ok\nbackground: {_background_line()}\n", content_type="text/plain")


@never_cache
def healthz_background(request: HttpRequest) -> HttpResponse:
    """200 while a worker or the tick was seen lately, 503 when sending and imports pause."""
    line = _background_line()
    healthy = line.startswith("ok") or line.startswith("not checked")
    return HttpResponse(line + "\n", content_type="text/plain", status=200 if healthy else 503)


def _background_line() -> str:
    if not settings.HERALD_BACKGROUND_CHECK:
        return "not checked (tasks run inline)"
    try:
        status = background_status()
    except DatabaseError as exc:
        return f"unknown (the database did not answer: {exc.__class__.__name__})"
    seen = ", ".join(
        f"{name} {at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
        for name, at in (("tick", status.tick_at), ("worker", status.worker_at))
        if at is not None
    )
    if status.ok:
        return f"ok (last seen: {seen})"
    state = "offline" if status.offline else "tick late"
    return f"{state}: {background_alert(status, UTC)}" + (f" (last seen: {seen})" if seen else "")
