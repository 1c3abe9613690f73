"""Finding the links of a message template and making them trackable (E1).

A campaign's templates are prepared once per run: each http(s) URL becomes a slot, the
variable `{{__herald_link_N}}`, and its own small template (a URL may hold `{{variables}}`).
The fan-out then renders, for each recipient, every slot's destination and gives it a new
code: the message carries `PUBLIC_BASE_URL/l/<code>`, the link row the destination.

What is never rewritten: anything but http and https (`javascript:`, `mailto:`, `tel:`...),
links to Herald itself (the unsubscribe link, which the email backend adds at send time
anyway, and /l/ links), in HTML anything but an `<a href>` (images stay images), and a URL
whose rendered destination is not a valid http(s) URL (it is sent as rendered).
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.utils.encoding import iri_to_uri

from .redirects import safe_location

SLOT = "__herald_link_{}"
MAX_URL = 2048
_VARIABLE = r"\{\{[^{}]*\}\}"
# An http(s) URL in text: not glued to a word or another scheme ("javascript:https://..."),
# up to white space, quotes or angle brackets; {{variables}} may sit anywhere inside.
TEXT_URL = re.compile(
    rf"(?<![\w:/.@-])https?://(?:{_VARIABLE}|[^\s<>\"'{{}}`^|\\])+", re.IGNORECASE
)
# The href of an <a> (or <area>) tag in an HTML template: quoted either way or bare.
HREF = re.compile(
    r"""(<(?:a|area)\b[^>]*?\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""",
    re.IGNORECASE,
)
_KEEP_AT_END = set("/#%&@*_-=+~$")
# A host name after IDNA (urlsplit lower-cases it), or an IPv6 address without its brackets.
HOST = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?|[0-9a-f.]*:[0-9a-f:.]*")
_ENDS_WITH_VARIABLE = re.compile(rf"{_VARIABLE}$")


def _trim(url: str) -> str:
    """A URL found in text without the punctuation that ends the sentence around it: a
    trailing period, comma or quote, or a bracket the URL did not open."""
    while url:
        last = url[-1]
        if _ENDS_WITH_VARIABLE.search(url):
            break
        if last in ")]":
            if url.count("(" if last == ")" else "[") >= url.count(last):
                break
        elif last in _KEEP_AT_END or not unicodedata.category(last).startswith("P"):
            break
        url = url[:-1]
    return url


def _own(url: str) -> bool:
    """A link to Herald itself (unsubscribe, an /l/ link): never tracked."""
    base = settings.PUBLIC_BASE_URL.lower().rstrip("/")
    return url.lower() == base or url.lower().startswith(base + "/")


def text_urls(text: str) -> list[tuple[int, int]]:
    """(start, end) of each trackable URL in plain text."""
    spans = []
    for match in TEXT_URL.finditer(text or ""):
        url = _trim(match.group())
        if len(url) > len("https://") and not _own(url):
            spans.append((match.start(), match.start() + len(url)))
    return spans


def track_template(
    template: str, *, is_html: bool = False, urls: list[str] | None = None
) -> tuple[str, list[str]]:
    """The template with each trackable URL replaced by a slot variable, and the slots' URL
    templates (each distinct URL once, in order of first appearance; `urls` carries them on
    from another part of the same message). In HTML only hrefs count, and their text is
    unescaped (`&amp;` is `&` in the destination)."""
    urls = [] if urls is None else urls

    def slot(url: str) -> str:
        if url not in urls:
            urls.append(url)
        return "{{" + SLOT.format(urls.index(url)) + "}}"

    if not is_html:
        out, position = [], 0
        for start, end in text_urls(template):
            out += [template[position:start], slot(template[start:end])]
            position = end
        return "".join(out) + template[position:], urls

    def href(match: re.Match) -> str:
        raw = next(group for group in match.groups()[1:] if group is not None)
        url = html.unescape(raw).strip()
        if not TEXT_URL.fullmatch(url) or _own(url):
            return match.group()
        quote = '"' if match.group(2) is not None else "'" if match.group(3) is not None else ""
        return f"{match.group(1)}{quote}{slot(url)}{quote}"

    return HREF.sub(href, template), urls


def destination(url: str) -> str | None:
    """A rendered URL as it is stored and redirected to: an absolute http(s) URI of printable
    ASCII (an international domain in punycode, other characters percent-encoded), or None
    when it is not one (then the message keeps the URL as it is)."""
    url = url.strip()
    if not url.isprintable():  # urlsplit would quietly drop a CR or LF from the middle
        return None
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        return None
    netloc = parts.netloc
    try:
        parts.port  # noqa: B018 (a port that is not a number raises)
        host = hostname.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return None
    if not HOST.fullmatch(host):
        return None
    if not netloc.isascii():
        userinfo, at, hostport = netloc.rpartition("@")
        _, colon, port = hostport.partition(":")
        netloc = f"{userinfo}{at}{host}{colon}{port}"
    uri = iri_to_uri(urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, "")))
    if parts.fragment:
        uri += "#" + iri_to_uri(parts.fragment)
    if len(uri) > MAX_URL or not safe_location(uri):
        return None
    return uri


def with_click_code(url: str, code: str) -> str:
    """The destination with `hc=<code>` added to its query, for the landing page to report a
    conversion with (E3)."""
    base, hash_, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        joiner = ""
    return f"{base}{joiner}hc={code}{hash_}{fragment}"


def short_url(code: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/l/{code}"


SAMPLE_CODE = "Ab3De6Gh9Jk2"


def sample_short_url() -> str:
    """A short link as a recipient gets it, for previews and character counts."""
    return short_url(SAMPLE_CODE)
