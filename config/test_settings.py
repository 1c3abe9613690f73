"""Settings for the test suite: the real settings with test-only defaults."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("HERALD_TESTING", "1")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-not-for-production")
# No worker runs beside most tests; tests of the heartbeat turn the check on themselves.
os.environ.setdefault("HERALD_BACKGROUND_CHECK", "0")
if "HERALD_MEDIA_ROOT" not in os.environ:
    # Uploads of one run, removed when it ends; the workers it starts inherit the directory
    # through the environment and leave it alone.
    os.environ["HERALD_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="herald-media-")
    atexit.register(shutil.rmtree, os.environ["HERALD_MEDIA_ROOT"], ignore_errors=True)

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_ROOT = None  # whitenoise serves from the finders in tests
# Test sends are throttled per user and workspace in the cache, which outlives a test (and
# ids repeat between runs): off in tests, except in the tests of the throttle.
HERALD_TEST_SEND_LIMIT_USER = HERALD_TEST_SEND_LIMIT_WORKSPACE = 0
