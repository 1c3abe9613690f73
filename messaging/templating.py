"""Message templates: plain one-pass substitution, never a template engine (K4).

`{{name}}` and `{{name|fallback}}` are replaced in a single pass over the template, so a value
that itself contains `{{…}}` is never substituted again. Anything else (`{% … %}`, `{{#if}}`,
`{{ a.b }}`, filters) stays literal: nothing is ever executed. HTML bodies escape substituted
values; plain bodies (SMS, voice, plain email) do not.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache

# A variable name: letters, digits and underscores, optional spaces inside the braces, an
# optional fallback after one "|". Dots, "#", "%" and anything else do not match, so they stay.
VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|([^{}|]*))?\}\}")
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "company")
BUILTIN = (*CONTACT_FIELDS, "agent_name")

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    fallback: str | None


def variables(template: str) -> list[Variable]:
    """The variables a template uses, in order, each name once (first fallback wins)."""
    seen: dict[str, Variable] = {}
    for match in VARIABLE.finditer(template or ""):
        name = match.group(1)
        if name not in seen:
            seen[name] = Variable(name, match.group(2))
    return list(seen.values())


def render(template: str, context: dict, *, escape_html: bool = False) -> str:
    """Substitute variables in one pass. A missing or empty value uses the fallback, else ""."""
    if not template or "{{" not in template:
        return template or ""
    return render_compiled(compile_template(template), context, escape_html=escape_html)


@lru_cache(maxsize=256)
def compile_template(template: str) -> tuple:
    """The template split once into literal strings and (name, fallback) pairs.

    Rendering a compiled template is a join over its parts: the fan-out renders millions of
    messages from one template, so the regular expression runs once, not once per contact.
    """
    parts: list = []
    position = 0
    for match in VARIABLE.finditer(template or ""):
        if match.start() > position:
            parts.append(template[position : match.start()])
        parts.append((match.group(1), match.group(2)))
        position = match.end()
    if position < len(template or ""):
        parts.append(template[position:])
    return tuple(parts)


def render_compiled(parts: tuple, context: dict, *, escape_html: bool = False) -> str:
    out = []
    for part in parts:
        if part.__class__ is str:
            out.append(part)
            continue
        value = context.get(part[0])
        text = "" if value is None else str(value)
        if not text and part[1] is not None:
            text = part[1]
        out.append(html.escape(text) if escape_html else text)
    return "".join(out)


def contact_context(
    *,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    company: str = "",
    metadata: dict | None = None,
    agent_name: str = "",
) -> dict:
    """The substitution values for one contact: metadata first, the built-in fields win."""
    context = {str(k): v for k, v in (metadata or {}).items() if not isinstance(v, dict | list)}
    context.update(
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        company=company,
        agent_name=agent_name,
    )
    return context


def missing_variables(templates: list[str], context: dict) -> set[str]:
    """Variables without a fallback that would render empty for this context."""
    missing = set()
    for template in templates:
        for var in variables(template):
            if var.fallback is None and not str(context.get(var.name) or ""):
                missing.add(var.name)
    return missing


# SMS segments -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int  # characters as counted by the encoding (GSM-7 extended count twice)
    segments: int
    per_segment: int


def sms_segments(text: str) -> SegmentInfo:
    """GSM-7: 160 characters in one segment, 153 each when split; UCS-2: 70, then 67.

    UCS-2 counts UTF-16 code units, so an emoji outside the BMP takes two.
    """
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        length = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if length <= single:
        return SegmentInfo(encoding, length, 1 if length else 0, single)
    return SegmentInfo(encoding, length, -(-length // multi), multi)
