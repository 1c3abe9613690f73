"""Django's PostgreSQL backend, with a health check that costs no round trip when the
connection is quiet.

With CONN_HEALTH_CHECKS (settings.py), Django checks a kept connection before each request
uses it by sending `SELECT 1`: a round trip per request, ~0.1 ms of the web process's CPU and
some of PostgreSQL's, about a quarter of a status callback's. A server that closed the
connection (restarted, terminated the backend, idle timeout) has sent its goodbye or a FIN
by then, which makes the idle socket readable; a healthy idle connection has nothing to
read. So the socket is polled first, without waiting: quiet, the connection is used as it
is; anything there (a closed socket, an error, or a rare notice), Django's own `SELECT 1`
decides, as before. A peer that vanished without a word is as silent to `SELECT 1` as to
the poll: both leave it to the query's own failure.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq

_TROUBLE = (
    select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL
) | getattr(select, "POLLRDHUP", 0)


def _quiet(connection) -> bool:
    """Whether an open connection is idle with nothing waiting on its socket."""
    if connection.closed or connection.broken:
        return False
    if connection.pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    poller = select.poll()
    poller.register(connection.fileno(), _TROUBLE)
    return not poller.poll(0)


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and _quiet(self.connection)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
