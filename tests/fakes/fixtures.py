"""pytest fixtures for the fake peers; import them into a conftest with `from ... import *`."""

import pytest

from messaging.twilio_client import _client

from .smtp import FakeSmtp
from .twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

__all__ = ["fake_smtp", "fake_smtp_server", "fake_twilio", "fake_twilio_server", "twilio_settings"]


@pytest.fixture(scope="session")
def fake_twilio_server():
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def twilio_settings(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = "https://herald.example.com"
    return settings


@pytest.fixture
def fake_twilio(fake_twilio_server, twilio_settings):
    """The fake Twilio, emptied, with the app's SMS and voice backends pointed at it."""
    fake_twilio_server.reset()
    twilio_settings.TWILIO_API_BASE_URL = fake_twilio_server.base_url
    twilio_settings.TWILIO_TIMEOUT_SECONDS = 3.0  # generous: a loaded CI machine is slow
    twilio_settings.HERALD_SMS_BACKEND = "twilio"
    twilio_settings.HERALD_VOICE_BACKEND = "twilio"
    _client.cache_clear()
    yield fake_twilio_server
    _client.cache_clear()


@pytest.fixture(scope="session")
def fake_smtp_server():
    server = FakeSmtp().start()
    yield server
    server.stop()


@pytest.fixture
def fake_smtp(fake_smtp_server, settings):
    """The SMTP server, emptied, with the app's email backend pointed at it."""
    fake_smtp_server.received.clear()
    settings.HERALD_EMAIL_BACKEND = "smtp"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = fake_smtp_server.port
    settings.EMAIL_USE_TLS = False
    return fake_smtp_server
