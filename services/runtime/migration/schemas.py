"""API shapes of instance migrations."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.runtime.operations.schemas import OptionalReason

MAX_INSTANCES = 500


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanRequest(_Body):
    from_definition_id: UUID = Field(description="Definition id of the version instances run on")
    to_definition_id: UUID = Field(description="Definition id of the version to move them to")


class MigrationRequest(_Body):
    from_definition_id: UUID
    to_definition_id: UUID
    mapping: dict[str, str] = Field(
        default_factory=dict, description="Old node id -> new node id, where ids differ"
    )
    instance_ids: list[UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_INSTANCES,
        description="Only these instances (default: every active instance of the old version)",
    )
    update_deadlines: bool = Field(
        default=True,
        description=(
            "Open tasks at nodes whose deadline rules (bpm:timeLimit, bpm:remindBefore, "
            "bpm:timeoutAction, bpm:timeoutReassignTo, dueDate) differ in the new version get "
            "their deadline recounted from the task's creation with the new rules, in the "
            "business calendar the old one was counted in: new due_at, reminder (none if its "
            "time has passed), overdue job (at once if already due) with the new timeout "
            "action; escalations already done stay done. A node without a deadline in the new "
            "version leaves its tasks without due_at. Tasks at nodes whose rules did not change "
            "keep their due time and deadline jobs as they are. false: every task keeps its "
            "due time and the old version's deadline rules."
        ),
    )


class ApplyMigration(MigrationRequest):
    reason: OptionalReason = None
    batch_size: int = Field(
        default=100, ge=1, le=MAX_INSTANCES, description="Instances per transaction"
    )


class Plan(BaseModel):
    from_definition_id: str
    to_definition_id: str
    definition_key: str
    from_version: int
    to_version: int
    mapped: dict[str, str]
    removed: list[str]
    added: list[str]
    unmapped_active_risks: list[dict[str, str]]
    mapping: dict[str, str | None] = Field(
        description="Nodes that need a mapping, with a suggestion (or null)"
    )
    active_instances: int
    waiting_at: dict[str, int] = Field(
        description="Active instances of the old version waiting at each node"
    )


class DeadlineChange(BaseModel):
    task_id: str
    node_id: str = Field(description="The task's node in the new version")
    due_at_before: dt.datetime | None
    due_at: dt.datetime | None = Field(description="The new due time (null: no deadline any more)")
    time_limit_before: str | None
    time_limit: str | None
    timeout_action: str | None = Field(description="What the new version does when the task is overdue")


class DryRunItem(BaseModel):
    instance_id: str
    business_key: str | None
    status: str = Field(description="ok or refused")
    reason: str | None
    node_id: str | None
    moves: list[dict[str, str]]
    timers_cancelled: int | None = None
    timers_created: int | None = None
    deadlines: list[DeadlineChange] | None = Field(
        default=None,
        description=(
            "The open tasks whose deadline the migration would recount (`update_deadlines`), "
            "with the due time before and after; empty when none would change, absent for a "
            "refused instance or with `update_deadlines` false"
        ),
    )


class DryRun(BaseModel):
    items: list[DryRunItem]
    next_cursor: str | None
    summary: dict[str, int]


class MigrationView(BaseModel):
    id: str
    definition_key: str
    from_definition_id: str
    to_definition_id: str
    from_version: int
    to_version: int
    mapping: dict[str, str]
    state: str
    batch_size: int
    total: int
    migrated: int
    failed: int
    pending: int
    reason: str | None
    update_deadlines: bool
    created_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    failures: list[dict[str, Any]]


class MigrationItem(BaseModel):
    instance_id: str
    state: str
    error: str | None
    processed_at: dt.datetime | None


class MigrationItems(BaseModel):
    items: list[MigrationItem]
    next_cursor: str | None
