"""Engine records of deadlines: a new task's due time is watched by jobs, a closed task's
jobs go in the same transaction (see instances/applier.py; the core handlers run first)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from services.runtime.deadlines import jobs as deadline_jobs_handlers  # noqa: F401 - registers the job handlers
from services.runtime.deadlines.service import (
    CALENDAR_USED,
    DEADLINE_JOBS,
    DROP_DEADLINE_JOBS,
    deadline_jobs,
)
from services.runtime.instances import records as core_records  # noqa: F401 - core handlers first
from services.runtime.instances.applier import Step, on_record
from services.runtime.jobs.models import jobs
from services.runtime.work.incidents import TASK_ENDED, TASK_JOBS, close_incidents


@on_record("task_created")
async def watch_due_time(step: Step, record: Any) -> None:
    spec = record.task
    task_id = UUID(spec.id)
    task = next(row for row in reversed(step.new_tasks) if row["id"] == task_id)
    await step.writes.insert(jobs, deadline_jobs(task, spec, step.now, step.extras.get(CALENDAR_USED)))


@on_record("task_completed", "task_cancelled")
async def stop_watching(step: Step, record: Any) -> None:
    done = step.completed_task
    if (
        done is not None
        and str(done["id"]) == record.task_id
        and "due_at" in done
        and done["due_at"] is None
    ):
        return  # a task without a due time has no deadline jobs
    task_id, kinds = UUID(record.task_id), list(DEADLINE_JOBS)
    # the incidents of those jobs (parked after failing) are over with them; closed
    # before the jobs are dropped, so the condition still sees the jobs
    await close_incidents(step, TASK_JOBS, [task_id, kinds], TASK_ENDED,
                          "the task ended: its deadline no longer applies")
    await step.writes.change("jobs", DROP_DEADLINE_JOBS, task_id, kinds)
