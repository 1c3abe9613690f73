"""Reading an inbound email (issue 15): a raw RFC 822 message or an ESP's inbound-parse form.

Everything here is untrusted text from the outside: it is parsed with the standard library's
`email` package (policy.default), never executed or rendered; what comes out is plain text,
capped in size, that the dashboard escapes like any contact-supplied text.

Two shapes arrive at the webhook:
* the raw message (`Content-Type: message/rfc822`, or a form field `email`, which is how
  SendGrid's Inbound Parse posts it in raw mode and how a `curl -F email=@msg.eml` relay does);
* an ESP's parsed fields: `from`, `to`, `subject`, `text`, `html`, `headers` (SendGrid), or
  `sender`, `recipient`, `body-plain`, `body-html`, `Message-Id`, `In-Reply-To`, `References`
  (Mailgun).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

MAX_TEXT_CHARS = 10_000  # what is kept of a reply once the quoted text is cut


class MailError(ValueError):
    """The request holds no email we can read; the message says why, for the sender."""


@dataclass(frozen=True)
class InboundEmail:
    from_address: str
    recipients: tuple[str, ...]  # every address it was sent to (envelope, To, Cc, Delivered-To)
    subject: str
    text: str  # the reply alone: quoted text and signature cut
    message_id: str
    references: str  # In-Reply-To then References, as one string of ids
    automatic: bool  # an auto-reply, a bounce or a list mail: never answered
    dedupe_key: str = field(default="")


def mail_from_raw(raw: bytes, *, envelope_to: tuple[str, ...] = ()) -> InboundEmail:
    """An RFC 822 message as an InboundEmail."""
    if not raw or not raw.strip():
        raise MailError("The email is empty.")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not message.keys():
        raise MailError("This is not an email: it has no headers.")
    text, html = _bodies(message)
    return _inbound(
        headers=message,
        text=text,
        html=html,
        envelope_to=envelope_to,
        dedupe_source=raw,
    )


def mail_from_form(post) -> InboundEmail:
    """An ESP's inbound-parse form (raw field `email`, or parsed fields) as an InboundEmail."""
    envelope_to = _envelope_recipients(post)
    raw = post.get("email")
    if raw:
        return mail_from_raw(raw.encode("utf-8", "surrogateescape"), envelope_to=envelope_to)
    headers = HeaderParser(policy=email.policy.default).parsestr(post.get("headers") or "")
    for name, value in (
        ("From", post.get("from") or post.get("sender")),
        ("To", post.get("to")),
        ("Subject", post.get("subject")),
        ("Message-ID", post.get("Message-Id")),
        ("In-Reply-To", post.get("In-Reply-To")),
        ("References", post.get("References")),
    ):
        if value and name not in headers:
            headers[name] = value
    text = post.get("text") or post.get("body-plain") or ""
    html = post.get("html") or post.get("body-html") or ""
    if not headers.keys() and not text and not html:
        raise MailError(
            "Post the raw email (message/rfc822, or a form field 'email') or an "
            "inbound-parse form with from, to and text."
        )
    source = json.dumps(sorted((k, post.get(k)) for k in post), default=str).encode()
    return _inbound(
        headers=headers, text=text, html=html, envelope_to=envelope_to, dedupe_source=source
    )


def _envelope_recipients(post) -> tuple[str, ...]:
    found = [post.get("recipient") or ""]
    try:
        envelope = json.loads(post.get("envelope") or "{}")
    except ValueError:
        envelope = {}
    to = envelope.get("to") if isinstance(envelope, dict) else None
    found += [str(a) for a in to] if isinstance(to, list) else [str(to or "")]
    return tuple(a for a in found if a)


def _header(headers, name: str) -> str:
    try:
        value = headers.get(name)
    except (ValueError, IndexError, TypeError):  # a header the parser cannot make sense of
        value = None
    return " ".join(str(value).split()) if value is not None else ""


def _addresses(headers, *names: str) -> list[str]:
    values = []
    for name in names:
        try:
            values += [str(v) for v in headers.get_all(name) or ()]
        except (ValueError, IndexError, TypeError):
            continue
    return [address.lower() for _, address in getaddresses(values) if "@" in address]


def _inbound(*, headers, text, html, envelope_to, dedupe_source) -> InboundEmail:
    sender = _addresses(headers, "From") or _addresses(headers, "Sender", "Return-Path")
    if not sender:
        raise MailError("The email has no From address.")
    recipients = tuple(
        dict.fromkeys(
            [parseaddr(a)[1].lower() for a in envelope_to]
            + _addresses(headers, "To", "Cc", "Delivered-To", "X-Original-To")
        )
    )
    if not any(recipients):
        raise MailError("The email has no recipient (To, Cc or envelope).")
    body = text if text.strip() else html_to_text(html)
    message_id = _header(headers, "Message-ID")[:998]
    source = message_id.encode() if message_id else dedupe_source
    return InboundEmail(
        from_address=sender[0][:254],
        recipients=tuple(r for r in recipients if r),
        subject=_header(headers, "Subject")[:255],
        text=reply_text(body)[:MAX_TEXT_CHARS],
        message_id=message_id,
        references=f"{_header(headers, 'In-Reply-To')} {_header(headers, 'References')}".strip(),
        automatic=is_automatic(headers, sender[0]),
        dedupe_key="email:" + hashlib.sha256(source).hexdigest()[:58],
    )


def _bodies(message: EmailMessage) -> tuple[str, str]:
    """The text/plain and text/html bodies of a message (attachments are ignored)."""
    parts = []
    for kind in ("plain", "html"):
        part = message.get_body(preferencelist=(kind,))
        parts.append(
            _content(part) if part is not None and part.get_content_subtype() == kind else ""
        )
    return parts[0], parts[1]


def _content(part) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown or lying charset
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})


def is_automatic(headers, sender: str) -> bool:
    """An out-of-office, a bounce or a mailing list (RFC 3834 and common practice): answering
    it would start a loop between two machines."""
    auto_submitted = _header(headers, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if _header(headers, "Precedence").lower() in _AUTO_PRECEDENCE:
        return True
    if any(_header(headers, h) for h in ("X-Autoreply", "X-Autorespond", "List-Id")):
        return True
    if _header(headers, "X-Auto-Response-Suppress").lower() in {"all", "oof"}:
        return True
    local = sender.split("@", 1)[0]
    return (
        local in {"mailer-daemon", "postmaster"}
        or "report" in _header(headers, "Content-Type").lower().split(";", 1)[0]
    )


# Where the quoted message starts: "On Tue, 1 Dec 2026 at 10:00, Acme <news@acme.test> wrote:"
# (possibly wrapped over two lines, and in a few languages), Outlook's separators and header
# block, and the signature delimiter of RFC 3676.
_QUOTE_HEADER = re.compile(
    r"^(On\b.{0,300}\b(wrote|écrit|schrieb|escribió|scrisse|schreef)\s*:"
    r"|Le\b.{0,300}a écrit\s*:|Am\b.{0,300}schrieb.{0,40}:|El\b.{0,300}escribió\s*:)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_SEPARATORS = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Forwarded message|Message d'origine|Ursprüngliche Nachricht)"
    r"\s*-{2,}|_{20,}|-- )\s*$",
    re.IGNORECASE,
)
_OUTLOOK_HEADER = re.compile(r"^\s*\**(From|De|Von|Van)\s*:\**\s", re.IGNORECASE)


def reply_text(body: str) -> str:
    """The new text of a reply: everything above the quoted message and the signature."""
    lines = (body or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.startswith(">") or line == "-- " or _SEPARATORS.match(line):
            break
        joined = line + (" " + lines[index + 1] if index + 1 < len(lines) else "")
        if _QUOTE_HEADER.match(line.strip()) or (
            line.strip() and _QUOTE_HEADER.match(joined.strip())
        ):
            break
        if _OUTLOOK_HEADER.match(line) and kept and not kept[-1].strip():
            break
        kept.append(line)
    return "\n".join(kept).strip()


class _HtmlText(HTMLParser):
    """Text of an HTML mail, without quoted blocks (blockquote, Gmail's and Outlook's quote
    containers), scripts and styles."""

    _SKIP = frozenset({"script", "style", "head", "title", "blockquote"})
    _BLOCK = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class") or ""
        ident = dict(attrs).get("id") or ""
        quoted = "gmail_quote" in classes or ident in {"divRplyFwdMsg", "appendonsend"}
        if self.skipping or tag in self._SKIP or quoted:
            if tag not in {"br", "img", "hr", "meta", "link", "input"}:
                self.skipping.append(tag)
            return
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if self.skipping:
            if tag in self.skipping:
                while self.skipping and self.skipping.pop() != tag:
                    pass
            return
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html or "")
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
