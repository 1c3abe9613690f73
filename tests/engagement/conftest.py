import pytest

from .factories import CampaignMessageFactory, TrackedLinkFactory


@pytest.fixture
def message(workspace):
    return CampaignMessageFactory(workspace=workspace)


@pytest.fixture
def link(message):
    return TrackedLinkFactory(message=message)
