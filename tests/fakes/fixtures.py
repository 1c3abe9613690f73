"""pytest fixtures for the fake peers; import them into a conftest with `from ... import *`.

Each test gets fresh servers: a request one test abandoned on a timeout (the fake was told to
hang, the machine was slow) can never land in the next test's fake, whatever its timing.
"""

import pytest

from messaging.twilio_client import _client

from .smtp import FakeSmtp
from .twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

__all__ = ["fake_smtp", "fake_twilio", "twilio_settings"]


@pytest.fixture
def twilio_settings(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = "https://herald.example.com"
    return settings


@pytest.fixture
def fake_twilio(twilio_settings):
    """A fresh fake Twilio, with the app's SMS and voice backends pointed at it."""
    server = FakeTwilio().start()
    twilio_settings.TWILIO_API_BASE_URL = server.base_url
    twilio_settings.TWILIO_TIMEOUT_SECONDS = 3.0  # generous: a loaded CI machine is slow
    twilio_settings.HERALD_SMS_BACKEND = "twilio"
    twilio_settings.HERALD_VOICE_BACKEND = "twilio"
    _client.cache_clear()
    yield server
    _client.cache_clear()
    server.stop()


@pytest.fixture
def fake_smtp(settings):
    """A fresh SMTP server, with the app's email backend pointed at it."""
    server = FakeSmtp().start()
    settings.HERALD_EMAIL_BACKEND = "smtp"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    yield server
    server.stop()
