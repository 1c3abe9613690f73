"""The address a request came from (login lockout, click records)."""

from collections.abc import Mapping

from django.conf import settings


def client_ip(meta: Mapping[str, str]) -> str:
    """REMOTE_ADDR, or behind the proxy the X-Real-IP header it sets; "" when there is none
    (a login made in code). `meta` is request.META or a WSGI environ, the same mapping.

    Behind nginx every request comes from the proxy's own address, so a per-address limit on
    REMOTE_ADDR would lock everyone out at once. deploy/nginx sets X-Real-IP to the client's
    address and overwrites any value the client sent; without HERALD_BEHIND_PROXY the header
    is ignored, because a client could then choose its own address.
    """
    if settings.HERALD_BEHIND_PROXY:
        forwarded = meta.get("HTTP_X_REAL_IP", "").strip()
        if forwarded:
            return forwarded[:45]
    return meta.get("REMOTE_ADDR", "")[:45]
