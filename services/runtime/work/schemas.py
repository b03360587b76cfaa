"""API shapes of external tasks and incidents."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.runtime.operations.schemas import Reason

MAX_LOCK_MS = 7 * 24 * 3600 * 1000
MAX_LONG_POLL_MS = 30_000
WorkerId = Field(min_length=1, max_length=64, description="Names the worker; only it may report on what it locked")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TopicRequest(_Strict):
    name: str = Field(min_length=1, max_length=255)
    lock_duration_ms: int = Field(ge=1, le=MAX_LOCK_MS)
    variables: list[str] | None = Field(default=None, description="Only these variables (all when absent)")


class FetchAndLock(_Strict):
    worker_id: str = WorkerId
    topics: list[TopicRequest] = Field(min_length=1, max_length=50)
    max_tasks: int = Field(default=10, ge=1, le=100)
    async_response_timeout_ms: int = Field(
        default=0, ge=0, le=MAX_LONG_POLL_MS, description="Long polling: wait up to this long for work"
    )

    @field_validator("topics")
    @classmethod
    def _distinct(cls, topics: list[TopicRequest]) -> list[TopicRequest]:
        names = [t.name for t in topics]
        if len(set(names)) != len(names):
            raise ValueError("each topic may be named once")
        return topics


class CompleteExternalTask(_Strict):
    worker_id: str = WorkerId
    variables: dict[str, Any] = Field(default_factory=dict)


class ExternalTaskFailure(_Strict):
    worker_id: str = WorkerId
    error_message: str | None = Field(default=None, max_length=4000)
    retries: int = Field(ge=0, le=1000, description="Retries left; 0 opens an incident")
    retry_timeout_ms: int | None = Field(default=None, ge=0, le=MAX_LOCK_MS)


class ExternalTaskBpmnError(_Strict):
    worker_id: str = WorkerId
    error_code: str = Field(min_length=1, max_length=255)
    error_message: str | None = Field(default=None, max_length=4000)
    variables: dict[str, Any] = Field(default_factory=dict)


class ExtendLock(_Strict):
    worker_id: str = WorkerId
    new_duration_ms: int = Field(ge=1, le=MAX_LOCK_MS)


class ExternalTaskView(BaseModel):
    id: str
    topic: str | None
    state: str
    worker_id: str | None
    lock_expiration_time: dt.datetime | None
    instance_id: str
    definition_key: str
    business_key: str | None
    node_id: str
    node_name: str | None
    retries: int
    priority: int
    headers: dict[str, Any]
    error_message: str | None
    created_at: dt.datetime
    variables: dict[str, Any] | None = None


class ExternalTaskPage(BaseModel):
    items: list[ExternalTaskView]
    next_cursor: str | None = None


class WorkReported(BaseModel):
    id: str
    state: str
    instance_id: str
    instance_state: str
    active_nodes: list[str]


class LockExtended(BaseModel):
    id: str
    state: str
    worker_id: str
    lock_expiration_time: dt.datetime


class RetryIncident(_Strict):
    retries: int = Field(default=1, ge=1, le=100)
    reason: Annotated[Reason, Field(
        description="Why; recorded in the instance history (in the incident and its event when it has no instance)"
    )]


class IncidentView(BaseModel):
    id: str
    instance_id: str | None = Field(
        description="The stuck instance; null for an incident of the process definition: a timer start "
        "event that fired but could not start an instance (job_kind timer_start)"
    )
    work_id: str = Field(description="The failed work item, or the failed job when job_kind is set")
    job_kind: str | None = Field(
        default=None, description="For a job that kept failing: timer, call_ended, deliver_signal, timer_start ..."
    )
    definition_id: str | None = Field(default=None, description="Set when instance_id is null: the version's id")
    definition_key: str
    definition_version: int | None = Field(default=None, description="Set when instance_id is null")
    node_id: str
    node_name: str | None
    message: str | None
    state: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by: str | None
    reason: str | None


class IncidentPage(BaseModel):
    items: list[IncidentView]
    next_cursor: str | None = None
