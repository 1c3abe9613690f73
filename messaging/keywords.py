"""SMS keywords (M5): opt-out, opt-in and help, as Twilio and the CTIA define them.

A keyword counts only when it is the whole message: case-insensitive, surrounding spaces and
trailing punctuation ignored (" Stop. " is STOP, "stop texting me" is not a keyword and is
stored as an ordinary reply).
"""

import enum
import re

OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

STOP_REPLY = (
    "You have been unsubscribed and will receive no more messages. Reply START to resubscribe."
)
START_REPLY = "You have been resubscribed. Reply STOP to unsubscribe."

_TRAILING_PUNCTUATION = re.compile(r"[\s.!?,;:)\"'*~-]+$")


class Keyword(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


def normalize_keyword(body: str) -> str:
    """The message as a candidate keyword: upper-case, trimmed, without trailing punctuation."""
    return _TRAILING_PUNCTUATION.sub("", (body or "").strip()).strip().upper()


def keyword_classify(body: str, opt_out_type: str = "") -> Keyword | None:
    """The keyword a message carries, if any.

    Twilio's `OptOutType` (STOP/START/HELP, sent only with Advanced Opt-Out) wins when present:
    the Messaging Service may have custom or localised keywords we do not know.
    """
    by_type = {"STOP": Keyword.OPT_OUT, "START": Keyword.OPT_IN, "HELP": Keyword.HELP}
    if (opt_out_type or "").strip().upper() in by_type:
        return by_type[opt_out_type.strip().upper()]
    word = normalize_keyword(body)
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS:
        return Keyword.OPT_IN
    if word in HELP_WORDS:
        return Keyword.HELP
    return None
