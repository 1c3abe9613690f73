"""The address a request came from, for per-client limits (login lockout)."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or behind the proxy the X-Real-IP header it sets.

    Behind nginx every request comes from the proxy's own address, so a per-address limit on
    REMOTE_ADDR would lock everyone out at once. deploy/nginx sets X-Real-IP to the client's
    address and overwrites any value the client sent; without HERALD_BEHIND_PROXY the header
    is ignored, because a client could then choose its own address.
    """
    if settings.HERALD_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_REAL_IP", "").strip()
        if forwarded:
            return forwarded[:45]
    return request.META.get("REMOTE_ADDR") or None  # e.g. a login made in code, not a request
