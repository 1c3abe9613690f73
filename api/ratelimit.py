"""A per-API-key request limit: a fixed one-minute window counted in the cache (A6).

The counter is an atomic INCR (Redis, or the in-process cache's lock), so concurrent requests
never push a key past the limit; the window resets on the minute.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60
logger = logging.getLogger(__name__)


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__("Too many requests.")
        self.retry_after = retry_after


def api_rate_limit_hit(*, key_hash: str) -> None:
    """Count one request for the key; raise RateLimited once it is over the limit."""
    limit = settings.HERALD_API_RATE_LIMIT
    if limit <= 0:
        return
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    counter = f"herald:api-rate:{key_hash[:24]}:{window}"
    try:
        cache.add(counter, 0, timeout=WINDOW_SECONDS * 2)
        try:
            count = cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.add(counter, 1, timeout=WINDOW_SECONDS * 2)
            count = 1
    except Exception:  # the cache is down: serve the API unlimited rather than not at all
        logger.warning("API rate limit skipped: the cache is unavailable", exc_info=True)
        return
    if count > limit:
        raise RateLimited(retry_after=int((window + 1) * WINDOW_SECONDS - now) + 1)
