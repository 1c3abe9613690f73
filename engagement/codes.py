"""Short link codes (E1): CODE_LENGTH base62 characters, the first PREFIX of them the link's
number, the other SECRET drawn from the OS's CSPRNG.

The number makes codes ascend as links are made: the fan-out takes numbers in blocks of
BLOCK (one PostgreSQL sequence value a block, see tracking.py), so a batch's links go in at the
end of the code index, as an id's would. Random codes went in all over it, which made each
link row cost PostgreSQL about as much as its message (a leaf page written per link, and
split half full). After 62^4 ≈ 14.8 million numbers the prefix starts again from 0000;
by then each prefix is shared by a few links, still made in order.

Why 12, and why 8 of them random: a guess names one prefix, which belongs to at most
max(1, n / 62^4) of n links, and hits one of them with probability at most
max(1, n / 62^4) / 62^8. Up to 14.8 million links that is 4.6e-15; at a billion links it is
1e9 / 62^12 ≈ 3e-13, exactly what twelve random characters give: an attacker sending 10,000
guesses a second for a year (3e11 requests, nearly all of them 404s anyone would notice)
expects to find 0.1 links. (Ten characters would give them ~400 in that year, eleven ~6.)
Each character costs the recipient a character of their SMS, so no longer than that. What
the numbers do reveal is roughly how many links were made between two codes; nothing in a
link depends on it. Two links collide only with the same prefix and the same 8 random
characters; the fan-out retries a batch whose code is taken.
"""

import os
import re
import string

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
CODE_LENGTH = 12
PREFIX = 4
SECRET = CODE_LENGTH - PREFIX
NUMBERS = 62**PREFIX
BLOCK = 1000  # link numbers taken at once
CODE = re.compile(rf"[0-9A-Za-z]{{{CODE_LENGTH}}}")

# Random bytes become characters through one bytes.translate: byte b → ALPHABET[b % 62], and
# bytes 248-255 are dropped (248 = 4 × 62), so every character is equally likely.
_KEEP = 248
_TABLE = bytes(ord(ALPHABET[b % 62]) for b in range(_KEEP)) + bytes(256 - _KEEP)
_DROP = bytes(range(_KEEP, 256))
# Two base62 digits of 0..3843, in order ('00', '01', ... 'zz'): ALPHABET is in ASCII order,
# so fixed-width prefixes sort as their numbers do (the code column compares bytes).
_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]


def _random_chars(count: int) -> str:
    text = b""
    while len(text) < count:
        # ~3% of bytes are dropped; ask for a little more than needed, then top up.
        text += os.urandom((count - len(text)) * 33 // 32 + 16).translate(_TABLE, _DROP)
    return text[:count].decode("ascii")


def prefix(number: int) -> str:
    """The PREFIX characters of link number `number` (modulo NUMBERS)."""
    number %= NUMBERS
    return _PAIRS[number // 3844] + _PAIRS[number % 3844]


def new_codes(count: int, first: int | None = None) -> list[str]:
    """`count` codes of the links numbered `first`, `first + 1`..., in that order; without a
    number, all twelve characters are random (a single link, or the tests' factories)."""
    if first is None:
        chars = _random_chars(count * CODE_LENGTH)
        return [chars[i : i + CODE_LENGTH] for i in range(0, len(chars), CODE_LENGTH)]
    chars = _random_chars(count * SECRET)
    return [
        prefix(first + n) + chars[i : i + SECRET]
        for n, i in enumerate(range(0, len(chars), SECRET))
    ]


def is_code(value: str) -> bool:
    """Whether `value` has a code's shape (say nothing more about it without a lookup)."""
    return CODE.fullmatch(value) is not None
