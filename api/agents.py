"""/api/v1/agents (A5, V7): the workspace's agents."""

from ninja import Query, Router, Schema, Status

from conversations.models import Agent
from conversations.services import agent_create

from .schemas import ERRORS, Input, Paging, page_of

agents_router = Router(tags=["agents"])


class AgentIn(Input):
    name: str
    instructions: str = ""
    opening_message: str = ""
    voice: str = "Polly.Joanna"
    max_call_seconds: int = 300


class AgentOut(Schema):
    id: int
    name: str
    instructions: str
    opening_message: str
    voice: str
    max_call_seconds: int


class AgentListOut(Schema):
    items: list[AgentOut]
    count: int


@agents_router.get("", response={200: AgentListOut, **ERRORS}, summary="List agents")
def agent_list(request, paging: Query[Paging]):
    """By name."""
    return page_of(Agent.objects.for_workspace(request.workspace), paging)


@agents_router.post("", response={201: AgentOut, **ERRORS}, summary="Add an agent")
def agent_add(request, payload: AgentIn):
    return Status(201, agent_create(workspace=request.workspace, data=payload.dict()))
