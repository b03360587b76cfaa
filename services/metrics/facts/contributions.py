"""What one task adds to the daily aggregates (`node_daily`, `reason_daily`).

A task contributes once it ended by a completion or a return, to the row of
its process, version, trial flag, department, UTC day of its end and node.
The handlers keep the aggregates equal to the sum of the contributions of the
current task rows: when a row changes they add the difference between the new
and the old contributions (`delta`), in the same transaction. The rankings add
the contributions of the tasks that ended on a period's partial days with the
same function, so both parts count alike.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NODE_DAILY, REASON_DAILY = "node_daily", "reason_daily"
NODE_MEASURES = (
    "tasks",
    "completed",
    "decisions",
    "rejected",
    "returned",
    "duration_sum",
    "duration_working_sum",
    "queue_count",
    "queue_sum",
    "queue_working_sum",
    "work_count",
    "work_sum",
    "work_working_sum",
    "due_count",
    "on_time",
    "overdue",
)
REASON_MEASURES = ("count",)
MAX_REASON_LENGTH = 200
_SPACE = re.compile(r"\s+")
_TRAILING = ".。!！,，;；"


@dataclass(frozen=True, slots=True)
class Contribution:
    table: str
    key: tuple[Any, ...]
    """node_daily: (key, version, trial, department, day, node_id); reason_daily: + kind, reason."""
    values: Mapping[str, float]
    name: str | None = field(default=None, compare=False)


def normalize_reason(text: str | None) -> str:
    """A reason as it is grouped: lower case, single spaces, no trailing punctuation,
    at most 200 characters."""
    if not text:
        return ""
    collapsed = _SPACE.sub(" ", text).strip().rstrip(_TRAILING).strip().lower()
    return collapsed[:MAX_REASON_LENGTH]


def task_contributions(row: Mapping[str, Any]) -> list[Contribution]:
    """The contributions of one task row (facts and measures); none until it ended worked."""
    state, ended_at = row["state"], row["ended_at"]
    if state not in ("completed", "returned") or ended_at is None:
        return []
    key = (
        row["definition_key"],
        row["definition_version"],
        bool(row["trial"]),
        row["department"] or "",
        ended_at.astimezone(dt.UTC).date(),
        row["node_id"],
    )
    completed, outcome, due_at = state == "completed", row["outcome"], row["due_at"]
    overdue = row["overdue_at"] is not None or (due_at is not None and ended_at > due_at)
    values = {
        "tasks": 1,
        "completed": int(completed),
        "decisions": int(completed and outcome in ("approve", "reject")),
        "rejected": int(completed and outcome == "reject"),
        "returned": int(state == "returned"),
        "duration_sum": row["duration_seconds"] or 0.0,
        "duration_working_sum": row["duration_working_seconds"] or 0.0,
        "queue_count": int(row["queue_seconds"] is not None),
        "queue_sum": row["queue_seconds"] or 0.0,
        "queue_working_sum": row["queue_working_seconds"] or 0.0,
        "work_count": int(row["work_seconds"] is not None),
        "work_sum": row["work_seconds"] or 0.0,
        "work_working_sum": row["work_working_seconds"] or 0.0,
        "due_count": int(completed and due_at is not None),
        "on_time": int(completed and due_at is not None and ended_at <= due_at),
        "overdue": int(overdue),
    }
    result = [Contribution(NODE_DAILY, key, values, row["name"])]
    if completed and outcome == "reject":
        reason = normalize_reason(row["comment"])
        result.append(Contribution(REASON_DAILY, (*key, "reject", reason), {"count": 1}))
    if state == "returned":
        reason = normalize_reason(row["end_reason"])
        result.append(Contribution(REASON_DAILY, (*key, "return", reason), {"count": 1}))
    return result


def total(contributions: Iterable[Contribution], sign: int = 1) -> dict[tuple[str, tuple], Any]:
    """Contributions summed per (table, key): {(table, key): (values, name)}."""
    sums: dict[tuple[str, tuple], Any] = {}
    for c in contributions:
        values, name = sums.get((c.table, c.key), ({}, None))
        for measure, value in c.values.items():
            values[measure] = values.get(measure, 0) + sign * value
        sums[(c.table, c.key)] = (values, c.name or name)
    return sums


def delta(old: Iterable[Contribution], new: Iterable[Contribution]) -> list[Contribution]:
    """What to add to the aggregates when a row's contributions change from `old` to `new`."""
    sums = total(new)
    for (table, key), (values, _) in total(old, sign=-1).items():
        current, name = sums.get((table, key), ({}, None))
        for measure, value in values.items():
            current[measure] = current.get(measure, 0) + value
        sums[(table, key)] = (current, name)
    changes = [
        Contribution(table, key, values, name)
        for (table, key), (values, name) in sums.items()
        if any(v != 0 for v in values.values())
    ]
    return sorted(changes, key=lambda c: (c.table, _sortable(c.key)))


def _sortable(key: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(str(part) for part in key)
