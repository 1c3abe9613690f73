"""The PostgreSQL backend's health check (config/postgresql): a kept connection is checked
before a request uses it, without a round trip while its socket is quiet, and replaced when
the server closed it."""

import select

import pytest
from django.db import close_old_connections, connections

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def kept():
    """The connection as a web process keeps it between requests (CONN_MAX_AGE, health
    checks on), at the start of a request."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        pytest.skip("the backend is PostgreSQL's")
    max_age = connection.settings_dict["CONN_MAX_AGE"]
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 600
    connection.ensure_connection()
    assert connection.health_check_enabled
    yield connection
    connection.settings_dict["CONN_MAX_AGE"] = max_age
    connection.close()


def _pings(monkeypatch) -> list[int]:
    pings = []
    wrapper = type(connections["default"])
    real = wrapper.is_usable

    def is_usable(self):
        pings.append(1)
        return real(self)

    monkeypatch.setattr(wrapper, "is_usable", is_usable)
    return pings


def test_a_quiet_kept_connection_is_used_without_a_select_1(kept, monkeypatch):
    pings = _pings(monkeypatch)
    raw = kept.connection
    for _ in range(3):  # three requests
        close_old_connections()
        with kept.cursor() as cursor:
            cursor.execute("SELECT 2")
            assert cursor.fetchone() == (2,)
    assert pings == [] and kept.connection is raw


def test_a_connection_the_server_closed_is_replaced_before_the_request_uses_it(kept, monkeypatch):
    import psycopg

    pings = _pings(monkeypatch)
    raw, pid = kept.connection, kept.connection.info.backend_pid
    params = kept.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    poller = select.poll()  # the server's goodbye reaches the socket (or 10 s go by)
    poller.register(raw.fileno(), select.POLLIN | select.POLLHUP)
    assert poller.poll(10_000)
    close_old_connections()  # the next request
    with kept.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)
    assert pings == [1] and kept.connection is not raw
