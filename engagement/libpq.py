"""PostgreSQL statements of the redirect's hot path, run on Django's connection below Django.

Django's cursor binds parameters on the client (composing the statement's text each time),
and psycopg's own cursor costs, per statement, about four times what libpq does (measured:
~135 µs against ~33 µs of a process's CPU for one lookup on a busy machine). So the link
lookup and the click batches run as statements prepared once per connection and executed
through libpq itself (psycopg's `pgconn`), with text parameters (arrays, one per column)
and text results. The connection stays Django's: it is opened, reused and closed as usual,
and errors come out as Django's database errors.
"""

from collections.abc import Sequence
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connection, connections
from psycopg import errors, pq


def run_prepared(name: bytes, sql: bytes, params: Sequence[bytes]) -> list[tuple]:
    """The rows (text values as bytes, NULL as None) of `sql` prepared as `name` on this
    connection, with text `params` ($1, $2...)."""
    # `connection` is a proxy shared by every thread; the thread's own wrapper (and its
    # database connection) is connections[alias]. What was prepared is recorded there: on
    # the proxy, one thread preparing on its connection made another prepare again on its
    # own, which PostgreSQL refuses ("already exists"), and every redirect was a 500.
    own = connections[DEFAULT_DB_ALIAS]
    with own.wrap_database_errors:
        own.ensure_connection()
        pgconn = own.connection.pgconn
        prepared = own.__dict__.setdefault("herald_prepared", {})
        if prepared.get(name) is not pgconn:  # a new connection prepares again
            _check(pgconn.prepare(name, sql))
            prepared[name] = pgconn
        result = _check(pgconn.exec_prepared(name, list(params)))
        width = result.nfields
        return [
            tuple(result.get_value(row, column) for column in range(width))
            for row in range(result.ntuples)
        ]


def _check(result: pq.abc.PGresult) -> pq.abc.PGresult:
    if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        raise errors.error_from_result(result, encoding=connection.connection.info.encoding)
    return result


def text_array(values) -> bytes:
    """A PostgreSQL array literal of `values` (str, int, datetime or None), every element
    quoted and escaped, for a text parameter cast to the array's type."""
    return ("{" + ",".join(map(_element, values)) + "}").encode()


def _element(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        value = value.isoformat()
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
