import factory

from conversations.models import Agent
from tests.factories import WorkspaceFactory


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    workspace = factory.SubFactory(WorkspaceFactory)
    name = "Ava"
    opening_message = "Hello {{first_name}}"
    max_call_seconds = 120
