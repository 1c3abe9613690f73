"""Short link codes (E1): random base62, CODE_LENGTH characters.

Why 12: 62^12 ≈ 3.2e21 codes (71 bits). With a billion live links, one random guess finds one
with probability 1e9 / 3.2e21 ≈ 3e-13, so an attacker sending 10,000 guesses a second for a
year (3e11 requests, nearly all of them 404s anyone would notice) expects to find 0.1 links.
Ten characters would give them ~400 in that year, eleven ~6. Each character costs the
recipient a character of their SMS, so no longer than that. The codes of a billion links
collide about 1e-4 times in all (n² / 2N); the fan-out retries a batch whose code is taken.
"""

import os
import re
import string

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
CODE_LENGTH = 12
CODE = re.compile(rf"[0-9A-Za-z]{{{CODE_LENGTH}}}")

# Random bytes become characters through one bytes.translate: byte b → ALPHABET[b % 62], and
# bytes 248-255 are dropped (248 = 4 × 62), so every character is equally likely.
_KEEP = 248
_TABLE = bytes(ord(ALPHABET[b % 62]) for b in range(_KEEP)) + bytes(256 - _KEEP)
_DROP = bytes(range(_KEEP, 256))


def new_codes(count: int) -> list[str]:
    """`count` random codes from the OS's CSPRNG, made in bulk (no per-code call)."""
    wanted = count * CODE_LENGTH
    text = b""
    while len(text) < wanted:
        # ~3% of bytes are dropped; ask for a little more than needed, then top up.
        text += os.urandom((wanted - len(text)) * 33 // 32 + 16).translate(_TABLE, _DROP)
    chars = text[:wanted].decode("ascii")
    return [chars[i : i + CODE_LENGTH] for i in range(0, wanted, CODE_LENGTH)]


def is_code(value: str) -> bool:
    """Whether `value` has a code's shape (say nothing more about it without a lookup)."""
    return CODE.fullmatch(value) is not None
