"""The per-key counter behind 429: atomic under concurrency, separate per key and window."""

import secrets
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest

from api.ratelimit import RateLimited, api_rate_limit_hit


def hits_allowed(key_hash: str, attempts: int, threads: int = 8) -> int:
    def hit(_):
        try:
            api_rate_limit_hit(key_hash=key_hash)
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(hit, range(attempts)))


def test_concurrent_requests_never_pass_the_limit(settings):
    settings.HERALD_API_RATE_LIMIT = 50

    assert hits_allowed(secrets.token_hex(16), attempts=200) == 50


def test_each_key_has_its_own_counter(settings):
    settings.HERALD_API_RATE_LIMIT = 2

    assert hits_allowed(secrets.token_hex(16), attempts=5, threads=1) == 2
    assert hits_allowed(secrets.token_hex(16), attempts=5, threads=1) == 2


def test_the_count_starts_again_in_the_next_minute(settings):
    settings.HERALD_API_RATE_LIMIT = 1
    key = secrets.token_hex(16)
    with mock.patch("api.ratelimit.time.time", return_value=6_000_030.0):
        api_rate_limit_hit(key_hash=key)
        with pytest.raises(RateLimited) as limited:
            api_rate_limit_hit(key_hash=key)
    assert limited.value.retry_after == 31

    with mock.patch("api.ratelimit.time.time", return_value=6_000_061.0):
        api_rate_limit_hit(key_hash=key)


def test_an_unavailable_cache_lets_requests_through(settings, caplog):
    settings.HERALD_API_RATE_LIMIT = 1
    with mock.patch("api.ratelimit.cache.add", side_effect=ConnectionError("down")):
        api_rate_limit_hit(key_hash="k" * 32)
        api_rate_limit_hit(key_hash="k" * 32)

    assert "cache is unavailable" in caplog.text
