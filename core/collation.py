"""Names sorted as people read them: case and accents ignored ("émile" beside "Emile", before
"Frank"), whatever the database's own collation (often C, which puts "Zoe" before "adam").

PostgreSQL uses its ICU collation "und-x-icu" (PostgreSQL 10+ built with ICU, as Debian's
packages and the official images are). SQLite has no such collation, so every connection gets
one of the same name: a Python comparison of the folded text (then the text itself, so equal
folds still sort the same way every time).
"""

import unicodedata

NAME_COLLATION = "und-x-icu"


def fold(text: str) -> str:
    """`text` without accents, case-folded: the key names are sorted by."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _compare(a: str, b: str) -> int:
    left, right = (fold(a), a), (fold(b), b)
    return (left > right) - (left < right)


def register_sqlite_collation(sender, connection, **kwargs) -> None:
    """connection_created receiver: SQLite connections learn NAME_COLLATION."""
    if connection.vendor == "sqlite":
        connection.connection.create_collation(NAME_COLLATION, _compare)
