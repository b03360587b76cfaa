"""The analytics API's shapes."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class ProcessSummary(BaseModel):
    key: str
    version: int | None = Field(description="The version summarised; null for all versions.")
    started: int = Field(description="Instances started (in the time window, if one was given).")
    completed: int
    running: int
    terminated: int
    avg_cycle_seconds: float | None = Field(description="Over completed instances; null if none.")
    median_cycle_seconds: float | None
    p90_cycle_seconds: float | None
    min_cycle_seconds: float | None
    max_cycle_seconds: float | None
    tasks_created: int = Field(
        description="User tasks created (in the time window, if one was given)."
    )
    tasks_completed: int
    open_tasks: int
    avg_task_seconds: float | None = Field(
        description="Creation to completion, over completed tasks."
    )


class InstanceCounts(BaseModel):
    started: int
    completed: int
    running: int
    terminated: int


class VersionOverview(InstanceCounts):
    version: int
    last_started_at: dt.datetime | None


class ProcessOverview(InstanceCounts):
    key: str
    last_started_at: dt.datetime | None
    versions: list[VersionOverview] = Field(description="Newest version first.")


class ProcessPage(BaseModel):
    items: list[ProcessOverview]
    next_cursor: str | None
