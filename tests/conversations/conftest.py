import pytest

from tests.fakes.fixtures import *  # noqa: F403 (fake Twilio and SMTP fixtures)


@pytest.fixture(autouse=True)
def _twilio_credentials(twilio_settings):
    """Every conversations test signs and validates webhooks with the fake account's token."""
    return twilio_settings
