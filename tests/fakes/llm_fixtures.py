"""pytest fixtures for the fake OpenAI-compatible server; import them with `from ... import *`.

Each test gets a fresh server: a slow answer abandoned by one test's client can never be
recorded as a request of the next test.
"""

import pytest

from conversations import llm

from .openai import API_KEY, MODEL, FakeOpenAI

__all__ = ["fake_llm"]


@pytest.fixture
def fake_llm(settings):
    """A fresh fake model server with the app's LLM settings pointed at it."""
    server = FakeOpenAI().start()
    settings.HERALD_LLM_BASE_URL = server.base_url
    settings.HERALD_LLM_API_KEY = API_KEY
    settings.HERALD_LLM_MODEL = MODEL
    settings.HERALD_LLM_TIMEOUT_SECONDS = 5.0  # generous: a loaded CI machine is slow
    settings.HERALD_LLM_RESPONSE_FORMAT = "json_schema"
    llm._json_object_only.clear()
    yield server
    server.stop()
    llm._json_object_only.clear()
