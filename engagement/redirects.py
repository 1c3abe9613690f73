"""What the view and the fast path share to answer `/l/<code>` (E2): the lookup, the checks
on where it leads, and the click a request makes."""

from collections.abc import Collection, Mapping

from django.db import connection
from django.utils import timezone

from core.clientip import client_ip

from .clicks import PendingClick
from .codes import is_code
from .libpq import run_prepared, text_array
from .models import TrackedLink

_TABLE = TrackedLink._meta.db_table
# The codes go over as an array of the column's type, so PostgreSQL compares them as codes
# and probes the primary key; compared as `text` it would scan the table.
_FIND_PG = f"SELECT code, url, message_id FROM {_TABLE} WHERE code = ANY($1::bpchar[])"


def safe_location(url: str) -> bool:
    """Whether a stored destination may go in a Location header: an http(s) URL of printable
    ASCII (links are stored that way; this guards against a row written any other way)."""
    return (
        url.startswith(("https://", "http://"))
        and url.isascii()
        and url.isprintable()
        and " " not in url
    )


def links_find(codes: Collection[str]) -> dict[str, tuple[str, int]]:
    """code → (destination, message id) of the links with these codes, in one query probing
    the primary key. Codes that are not well formed are not looked up, and a destination
    that is not a safe http(s) URL is left out, so the caller answers 404 for both and never
    redirects anywhere else."""
    wanted = sorted({code for code in codes if is_code(code)})
    if not wanted:
        return {}
    if connection.vendor == "postgresql":
        found = run_prepared(b"herald_links_find", _FIND_PG.encode(), [text_array(wanted)])
        rows = [(code.decode(), url.decode(), int(message_id)) for code, url, message_id in found]
    else:
        marks = ", ".join(["%s"] * len(wanted))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT code, url, message_id FROM {_TABLE} WHERE code IN ({marks})", wanted
            )
            rows = cursor.fetchall()
    return {code: (url, message_id) for code, url, message_id in rows if safe_location(url)}


def link_target(code: str) -> tuple[str, int] | None:
    """(destination, message id) of the link with this code, or None (see links_find)."""
    return links_find([code]).get(code)


def pending_click(code: str, message_id: int, meta: Mapping[str, str]) -> PendingClick:
    return PendingClick(
        code=code,
        message_id=message_id,
        clicked_at=timezone.now(),
        method=meta.get("REQUEST_METHOD", "GET"),
        user_agent=meta.get("HTTP_USER_AGENT", ""),
        ip=client_ip(meta),
    )
