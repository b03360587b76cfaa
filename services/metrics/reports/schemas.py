"""The reports' shapes."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

Format = Literal["json", "csv", "xlsx"]


class ExceptionReason(BaseModel):
    kind: Literal["reject", "return", "withdraw", "terminate"]
    reason: str | None = Field(description="Normalised (lower case); null when none was given.")
    count: int


class WeeklyRow(BaseModel):
    key: str
    started: int = Field(description="Instances started in the week.")
    completed: int = Field(description="Instances completed in the week.")
    mean_cycle_seconds: float | None = Field(description="Of the instances completed in the week.")
    mean_cycle_working_seconds: float | None
    overdue: int = Field(description="Tasks due in the week that were not done in time.")
    rejection_rate: float | None = Field(
        description="Rejections among the approval decisions of the week."
    )
    rejected: int = Field(description="Rejection decisions in the week.")
    returned: int = Field(description="Tasks returned to an earlier node in the week.")
    withdrawn: int
    terminated: int
    exception_reasons: list[ExceptionReason] = Field(description="The most frequent, at most 3.")


class WeeklyReport(BaseModel):
    week: str = Field(examples=["2026-W47"])
    timezone: str
    period_from: dt.datetime
    period_to: dt.datetime
    items: list[WeeklyRow] = Field(description="One row per process with activity, by key.")


class VersionFigures(BaseModel):
    version: int
    started: int
    completed: int


class MetricComparison(BaseModel):
    metric: str
    better: Literal["lower", "higher"]
    before: float | None
    after: float | None
    change: float | None = Field(description="after - before")
    change_rate: float | None = Field(description="(after - before) / before")
    target: float | None
    achievement_rate: float | None = Field(
        description="Improvement achieved / improvement targeted: (after - before) / "
        "(target - before); 1 means the target was reached."
    )
    target_met: bool | None


class VersionComparison(BaseModel):
    key: str
    before: VersionFigures
    after: VersionFigures
    metrics: list[MetricComparison]
