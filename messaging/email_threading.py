"""How a reply to one of our emails finds its way back (issue 15): signed addresses and ids.

* Reply-To: with HERALD_REPLY_TO_EMAIL set (say `reply@in.example.com`), every email to a
  contact says `Reply-To: reply+<workspace>.<contact>.<signature>@in.example.com`, so a reply
  names its workspace and contact whatever address the contact answers from.
* Message-ID: `<herald.<workspace>.<message>.<signature>@<domain>>`, so a reply's
  In-Reply-To / References names the message it answers (mail clients that drop Reply-To
  still quote it).

Both carry an HMAC under SECRET_KEY: nobody can point a reply at another contact's thread by
editing a number. The parts are lower-case letters, digits and dots, which survive mail
systems that change the case of local parts; the signature is 16 hex digits (64 bits).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from django.conf import settings

_SALT = b"herald.messaging.email-threading"
_TOKEN = re.compile(r"^(\d{1,12})\.(\d{1,15})\.([0-9a-f]{16})$")
_MESSAGE_ID = re.compile(r"<herald\.(\d{1,12})\.(\d{1,15})\.([0-9a-f]{16})@[^<>\s]+>")


def _signature(kind: str, workspace_id: int, object_id: int) -> str:
    key = hashlib.sha256(_SALT + settings.SECRET_KEY.encode()).digest()
    text = f"{kind}:{workspace_id}:{object_id}".encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()[:16]


def _verified(kind: str, match: re.Match | None) -> tuple[int, int] | None:
    if match is None:
        return None
    workspace_id, object_id, signature = int(match[1]), int(match[2]), match[3]
    if not hmac.compare_digest(signature, _signature(kind, workspace_id, object_id)):
        return None
    return workspace_id, object_id


def reply_address(*, workspace_id: int, contact_id: int) -> str:
    """The contact's own reply address, or "" when HERALD_REPLY_TO_EMAIL is not set."""
    base = settings.HERALD_REPLY_TO_EMAIL
    if not base or "@" not in base:
        return ""
    local, domain = base.rsplit("@", 1)
    signature = _signature("reply", workspace_id, contact_id)
    return f"{local}+{workspace_id}.{contact_id}.{signature}@{domain}"


def reply_address_parse(address: str) -> tuple[int, int] | None:
    """(workspace id, contact id) of a genuine reply address, else None."""
    local = (address or "").strip().lower().rsplit("@", 1)[0]
    if "+" not in local:
        return None
    return _verified("reply", _TOKEN.match(local.split("+", 1)[1]))


def message_id_for(*, workspace_id: int, message_id: int) -> str:
    """Our Message-ID for an outbox email: at most 64 characters with a domain of up to 20
    (the provider id column's size); a longer domain is replaced by `herald.local`, which
    mail systems accept as well (the id need only be unique)."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ").lower() or "herald.local"
    signature = _signature("message", workspace_id, message_id)
    text = f"herald.{workspace_id}.{message_id}.{signature}"
    if len(text) + len(domain) + 3 > 64:
        domain = "herald.local"
    return f"<{text}@{domain}>"


def message_ids_parse(header: str) -> list[tuple[int, int]]:
    """(workspace id, message id) of each genuine Herald Message-ID in an In-Reply-To or
    References header, newest last as the header lists them."""
    return [
        found
        for match in _MESSAGE_ID.finditer((header or "").lower())
        if (found := _verified("message", match)) is not None
    ]


_PREFIXES = {"re", "fw", "fwd", "aw", "tr"}


def subject_bare(subject: str) -> str:
    """A subject without its Re: / Fwd: prefixes (and with its runs of spaces as one)."""
    words = subject.split()
    while words and words[0].lower().rstrip(":") in _PREFIXES:
        words.pop(0)
    return " ".join(words)


def subject_reply(subject: str) -> str:
    """The subject of an answer to an email titled `subject`: "Re: " before it once (a subject
    that already starts with Re: is kept as it is), at most 255 characters; "" for none."""
    subject = " ".join(subject.split())
    if not subject:
        return ""
    return (subject if subject.lower().startswith("re:") else f"Re: {subject}")[:255]
