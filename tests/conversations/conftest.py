import pytest

from tests.fakes.fixtures import *  # noqa: F403 (fake Twilio and SMTP fixtures)
from tests.fakes.llm_fixtures import *  # noqa: F403 (the fake model server)

from .helpers import Thread


@pytest.fixture(autouse=True)
def _twilio_credentials(twilio_settings):
    """Every conversations test signs and validates webhooks with the fake account's token."""
    return twilio_settings


@pytest.fixture
def thread(workspace):
    return Thread(workspace)


@pytest.fixture
def queued(monkeypatch, settings):
    """A model is configured, and the agent-answer tasks queued (conversation id,
    generation) are recorded instead of going to a broker."""
    settings.HERALD_LLM_BASE_URL = settings.HERALD_LLM_BASE_URL or "http://127.0.0.1:9/v1"
    settings.HERALD_LLM_MODEL = settings.HERALD_LLM_MODEL or "fake-model"
    calls = []
    monkeypatch.setattr(
        "conversations.answering._queue", lambda *key, **options: calls.append(tuple(key))
    )
    return calls
