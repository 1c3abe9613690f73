"""A fixed-window counter in the cache, for limits on actions (test sends per user and
workspace): an atomic INCR per hit, so concurrent requests never pass the limit."""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def rate_limit_hit(name: str, *, limit: int, window_seconds: int) -> int | None:
    """Count one hit of `name`; the seconds until the window resets once it is past `limit`
    (the hit is still counted), else None. A limit of 0 or less means none."""
    if limit <= 0:
        return None
    now = time.time()
    window = int(now // window_seconds)
    counter = f"herald:rate:{name}:{window}"
    try:
        cache.add(counter, 0, timeout=window_seconds * 2)
        try:
            count = cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.add(counter, 1, timeout=window_seconds * 2)
            count = 1
    except Exception:  # the cache is down: allow rather than refuse everything
        logger.warning("Rate limit %s skipped: the cache is unavailable", name, exc_info=True)
        return None
    if count > limit:
        return int((window + 1) * window_seconds - now) + 1
    return None


def rate_limit_reset(name: str, *, window_seconds: int) -> None:
    """Forget the current window's count of `name`."""
    cache.delete(f"herald:rate:{name}:{int(time.time() // window_seconds)}")
