"""/api/v1/agents (A5, V3, V7): the workspace's agents, with what their AI model reads."""

from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from conversations.models import Agent
from conversations.services import AGENT_FIELDS, agent_create, agent_update

from .schemas import ERRORS, Input, Paging, page_of

agents_router = Router(tags=["agents"])


class AgentIn(Input):
    name: str
    instructions: str = ""
    knowledge: str = ""
    goal: str = ""
    handoff_rules: str = ""
    max_turns: int = 10
    max_reply_segments: int = 2
    model: str = ""
    opening_message: str = ""
    voice: str = "Polly.Joanna"
    max_call_seconds: int = 300
    language: str = Field("en-US", description="A call's language (BCP-47), e.g. es-MX.")
    speech_hints: str = Field(
        "",
        description="Words and phrases callers may say (names, products, places), one per "
        "line or comma-separated, each under 100 characters, at most 450: a call's speech "
        "recognition expects them, and the contact's name.",
    )


class AgentPatch(Input):
    """Only the fields sent change."""

    name: str | None = None
    instructions: str | None = None
    knowledge: str | None = None
    goal: str | None = None
    handoff_rules: str | None = None
    max_turns: int | None = None
    max_reply_segments: int | None = None
    model: str | None = None
    opening_message: str | None = None
    voice: str | None = None
    max_call_seconds: int | None = None
    language: str | None = None
    speech_hints: str | None = None


class AgentOut(Schema):
    id: int
    name: str
    instructions: str
    knowledge: str
    goal: str
    handoff_rules: str
    max_turns: int
    max_reply_segments: int
    model: str
    opening_message: str
    voice: str
    max_call_seconds: int
    language: str
    speech_hints: str


class AgentListOut(Schema):
    items: list[AgentOut]
    count: int


def _agent(request, agent_id: int) -> Agent:
    return get_object_or_404(Agent.objects.for_workspace(request.workspace), pk=agent_id)


@agents_router.get("", response={200: AgentListOut, **ERRORS}, summary="List agents")
def agent_list(request, paging: Query[Paging]):
    """By name."""
    return page_of(Agent.objects.for_workspace(request.workspace), paging)


@agents_router.post("", response={201: AgentOut, **ERRORS}, summary="Add an agent")
def agent_add(request, payload: AgentIn):
    return Status(201, agent_create(workspace=request.workspace, data=payload.dict()))


@agents_router.get("/{agent_id}", response={200: AgentOut, **ERRORS}, summary="One agent")
def agent_get(request, agent_id: int):
    return _agent(request, agent_id)


@agents_router.patch("/{agent_id}", response={200: AgentOut, **ERRORS}, summary="Change an agent")
def agent_change(request, agent_id: int, payload: AgentPatch):
    agent = _agent(request, agent_id)
    data = {key: getattr(agent, key) for key in AGENT_FIELDS}
    data.update(payload.dict(exclude_unset=True, exclude_none=True))
    return agent_update(agent=agent, data=data)


@agents_router.delete("/{agent_id}", response={204: None, **ERRORS}, summary="Delete an agent")
def agent_delete(request, agent_id: int):
    """Its campaigns and conversations keep going without it (their replies wait for a person)."""
    _agent(request, agent_id).delete()
    return Status(204, None)
