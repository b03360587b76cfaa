"""The analytics API's shapes. Durations are seconds; rates are fractions from 0 to 1."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

Rate = float | None


class ProcessSummary(BaseModel):
    key: str
    version: int | None = Field(description="The version summarised; null for all versions.")
    department: str | None = Field(default=None, description="The department filter, if any.")
    started: int = Field(description="Instances started (in the time window, if one was given).")
    completed: int = Field(description="Instances that reached an end, rejected ones included.")
    running: int
    rejected: int = Field(description="Completed instances that a rejection ended.")
    withdrawn: int = Field(description="Instances their initiator withdrew.")
    terminated: int = Field(description="Instances ended otherwise (administrator, error).")
    avg_cycle_seconds: float | None = Field(description="Over completed instances; null if none.")
    median_cycle_seconds: float | None
    p90_cycle_seconds: float | None
    min_cycle_seconds: float | None
    max_cycle_seconds: float | None
    avg_cycle_working_seconds: float | None = Field(
        default=None, description="Cycle time in working time of the business calendar."
    )
    median_cycle_working_seconds: float | None = None
    p90_cycle_working_seconds: float | None = None
    avg_satisfaction: float | None = Field(
        default=None, description="Mean satisfaction score of completed instances that have one."
    )
    satisfaction_responses: int = 0
    tasks_created: int = Field(
        description="User tasks created (in the time window, if one was given)."
    )
    tasks_completed: int
    tasks_returned: int = Field(default=0, description="Tasks sent back to an earlier node.")
    open_tasks: int
    avg_task_seconds: float | None = Field(
        description="Creation to completion, over completed tasks."
    )
    avg_queue_seconds: float | None = Field(
        default=None, description="Offered to first claim, delegation, transfer or decision."
    )
    avg_work_seconds: float | None = Field(
        default=None, description="First action to completion (or return)."
    )
    rejection_rate: Rate = Field(
        default=None, description="Rejections among approval decisions (approve or reject)."
    )
    return_rate: Rate = Field(
        default=None, description="Returns among tasks worked (completed or returned)."
    )
    loops_per_instance: float | None = Field(
        default=None,
        description="How often a node ran per instance that reached it (1 = no rework).",
    )
    sla_compliance_rate: Rate = Field(
        default=None,
        description="Tasks completed by their due time among completed tasks with one.",
    )
    overdue_tasks: int = Field(
        default=0, description="Tasks that went past their due time (reported or still open)."
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


class Spread(BaseModel):
    """A duration's mean, median and 90th percentile, in calendar and in working time."""

    mean: float | None
    median: float | None
    p90: float | None
    working_mean: float | None
    working_median: float | None
    working_p90: float | None


class NodeStats(BaseModel):
    node_id: str
    name: str | None
    tasks_created: int
    open: int
    completed: int
    returned: int
    cancelled: int
    instances: int = Field(description="Instances in which the node ran.")
    loops_per_instance: float | None = Field(
        description="Runs of the node per instance that reached it (> 1 means rework)."
    )
    decisions: int
    rejected: int
    rejection_rate: Rate
    return_rate: Rate
    queue_seconds: Spread = Field(
        description="Offered to claimed, delegated, transferred or decided."
    )
    work_seconds: Spread = Field(description="From there to completed (or returned).")
    duration_seconds: Spread = Field(description="Offered to completed (or returned).")
    sla_compliance_rate: Rate
    overdue: int = Field(description="Tasks that went past their due time, open ones included.")
    open_overdue: int


class NodeStatsList(BaseModel):
    key: str
    version: int | None
    items: list[NodeStats] = Field(description="In the order the nodes first ran.")
    next_cursor: str | None = None


class BottleneckNode(BaseModel):
    node_id: str
    name: str | None
    tasks: int = Field(description="Tasks that ended worked (completed or returned).")
    total_seconds: float = Field(description="Time tasks spent at the node, offered to ended.")
    share: Rate = Field(description="The node's part of the time spent in all nodes.")
    mean_seconds: float | None
    mean_working_seconds: float | None
    waiting_seconds: float = Field(description="Time tasks waited to be taken on.")
    waiting_share: Rate
    mean_waiting_seconds: float | None
    mean_waiting_working_seconds: float | None
    mean_work_seconds: float | None
    mean_work_working_seconds: float | None
    rejection_rate: Rate
    return_rate: Rate
    sla_compliance_rate: Rate
    overdue: int


class Cause(BaseModel):
    reason: str | None = Field(description="The comment or reason given; null when none was.")
    count: int
    share: float = Field(description="Part of all rejections (or returns) in scope.")
    node_ids: list[str]


class Bottlenecks(BaseModel):
    key: str
    version: int | None
    department: str | None
    period_from: dt.datetime | None = Field(description="Tasks ended at or after this time.")
    period_to: dt.datetime | None = Field(description="Tasks ended before this time.")
    total_seconds: float
    total_waiting_seconds: float
    by_share: list[BottleneckNode] = Field(description="Largest share of the time first.")
    by_waiting: list[BottleneckNode] = Field(description="Longest total waiting first.")
    rejection_causes: list[Cause] = Field(description="Most frequent first.")
    return_causes: list[Cause]


class BoardCounts(BaseModel):
    running_instances: int
    open_tasks: int
    overdue_tasks: int
    rejected: int = Field(description="Rejection decisions since `rejected_since`.")


class BoardProcess(BoardCounts):
    key: str


class BoardDepartment(BoardCounts):
    department: str | None


class BoardAssignee(BaseModel):
    assignee: str | None = Field(description="Null for tasks offered to candidates, unclaimed.")
    open_tasks: int
    overdue_tasks: int
    rejected: int = Field(description="Rejections this user decided since `rejected_since`.")


class Board(BaseModel):
    as_of: dt.datetime
    rejected_since: dt.datetime
    totals: BoardCounts
    by_process: list[BoardProcess]
    by_department: list[BoardDepartment]
    by_assignee: list[BoardAssignee]
