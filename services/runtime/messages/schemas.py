"""API shapes of messages and signals."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: a message or signal name: blank is no name
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class SendMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="The message name of the BPMN model")
    correlation_key: str | None = Field(default=None, max_length=500)
    business_key: str | None = Field(default=None, max_length=255, description="Only instances with this key")
    variables: dict[str, Any] = Field(default_factory=dict)
    all: bool = Field(default=False, description="Deliver to every match instead of refusing several")


class InstanceSummary(BaseModel):
    id: str
    definition_key: str
    definition_version: int
    business_key: str | None
    state: str
    active_nodes: list[str]


class MessageCorrelated(BaseModel):
    result_type: str = Field(description="`correlated` (waiting instances received it) or `started`")
    instances: list[InstanceSummary]


class SendSignal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="The signal name of the BPMN model")
    variables: dict[str, Any] = Field(default_factory=dict)


class SignalBroadcast(BaseModel):
    name: str
    reached: int = Field(description="Instances that received the signal plus instances it started")
    instances_signalled: list[str]
    instances_started: list[str]
    failed: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Recipients whose model could not take the signal: an instance_id (a waiting "
        "instance) or a definition_key (a signal start), with the detail",
    )
