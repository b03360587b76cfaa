"""Deadlines that meet a change: the initiator moves to a department of another calendar,
the task is delegated when it is reassigned on timeout, the instance was suspended past
the reminder; and calendars that could count no time limit."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import JobRunner
from tests.runtime.test_assignment_rules import BPMN, build_org
from tests.runtime.test_deadlines_jobs import events, task_row

ADMIN = ("admin", "admin")
SECOND = dt.timedelta(seconds=1)
BERLIN_OFFICE = {
    "timezone": "Europe/Berlin",
    "working_hours": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "departments": ["sales"],
}



@pytest.fixture
def clock(monkeypatch):
    """The runtime's clock, set by the test (`clock.now = ...`)."""

    class Clock:
        now = dt.datetime.now(dt.UTC)

    for target in ("services.runtime.instances.service.utcnow", "services.runtime.operations.actions.utcnow"):
        monkeypatch.setattr(target, lambda: Clock.now)
    return Clock


async def _started(runtime, key: str, attributes: str) -> tuple[str, dict[str, Any]]:
    await runtime.publish(BPMN.format(key=key, attributes=f'camunda:assignee="carol" {attributes}').encode(), key)
    r = await runtime.client.post("/api/v1/process-instances", json={"definition_key": key},
                                  headers=runtime.auth("alice"))
    assert r.status_code == 201, r.text
    tasks = await runtime.client.get("/api/v1/tasks", params={"instance_id": r.json()["id"]},
                                     headers=runtime.auth("carol"))
    [task] = tasks.json()["items"]
    return r.json()["id"], task


async def _jobs_of(runtime, task_id: str) -> list[tuple[str, dt.datetime]]:
    async with runtime.db.connection() as conn:
        rows = (await conn.execute(select(jobs.c.kind, jobs.c.due_at).where(jobs.c.task_id == UUID(task_id)))).all()
    return sorted((r.kind, r.due_at) for r in rows)


async def _run(runtime, clock, moment: dt.datetime) -> None:
    clock.now = moment
    await JobRunner(runtime.client.app.state.ctx).run_due(now=moment)


async def test_escalations_count_in_the_calendar_the_time_limit_was_counted_in(runtime, clock):
    await build_org(runtime)
    put = await runtime.client.put("/api/v1/calendars/berlin", json=BERLIN_OFFICE, headers=runtime.auth(*ADMIN))
    assert put.status_code == 200, put.text
    clock.now = dt.datetime(2025, 3, 28, 16, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(dt.UTC)  # a Friday
    _, task = await _started(runtime, "moved", 'bpm:timeLimit="PT3H" bpm:timeoutAction="escalate"')
    due = dt.datetime(2025, 3, 31, 9, tzinfo=dt.UTC)  # Fri 16-17 CET, then Mon 09-11 CEST
    assert (await task_row(runtime, task["id"]))["due_at"] == due
    await runtime.user("alice", "clerk", department="finance", sequence=2)  # finance: the default calendar
    await _run(runtime, clock, due + SECOND)
    assert await _jobs_of(runtime, task["id"]) == [
        ("deadline_escalate", dt.datetime(2025, 3, 31, 12, tzinfo=dt.UTC))  # Mon 14:00 Berlin, not Shanghai
    ]


async def test_reassigning_a_delegated_task_on_timeout_ends_the_delegation(runtime, clock):
    await build_org(runtime)
    clock.now = dt.datetime(2025, 6, 2, 2, tzinfo=dt.UTC)  # Monday 10:00 in Shanghai
    _, task = await _started(runtime, "late-delegate",
                             'bpm:timeLimit="PT2H" bpm:timeoutAction="reassign" bpm:timeoutReassignTo="user:dave"')
    delegated = await runtime.client.post(f"/api/v1/tasks/{task['id']}/delegate", json={"to": "erin"},
                                          headers=runtime.auth("carol"))
    assert delegated.status_code == 200, delegated.text
    await _run(runtime, clock, dt.datetime(2025, 6, 2, 4, tzinfo=dt.UTC) + SECOND)
    row = await task_row(runtime, task["id"])
    assert (row["assignee"], row["owner"], row["delegation_state"]) == ("dave", None, None)
    done = await runtime.client.post(f"/api/v1/tasks/{task['id']}/complete", json={}, headers=runtime.auth("dave"))
    assert done.status_code == 200, done.text


async def test_a_reminder_held_back_past_the_due_time_by_a_suspension_is_not_sent(runtime, clock):
    await build_org(runtime)
    clock.now = dt.datetime(2025, 6, 2, 2, tzinfo=dt.UTC)
    instance_id, task = await _started(runtime, "held", 'bpm:timeLimit="PT2H" bpm:remindBefore="PT30M"')
    admin = runtime.auth(*ADMIN)
    path = f"/api/v1/admin/process-instances/{instance_id}"
    assert (await runtime.client.post(f"{path}/suspend", json={"reason": "audit"}, headers=admin)).status_code == 200
    await _run(runtime, clock, dt.datetime(2025, 6, 2, 4, tzinfo=dt.UTC) + SECOND)
    assert (await runtime.client.post(f"{path}/resume", json={"reason": "ok"}, headers=admin)).status_code == 200
    await _run(runtime, clock, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    assert [e["type"] for e in await events(runtime, "task.due_soon", "task.overdue")] == ["task.overdue"]
    assert "deadline_due_soon" not in [kind for kind, _ in await _jobs_of(runtime, task["id"])]


@pytest.mark.parametrize("time", ["-0:30", "+9:00", "٠٩:٠٠", "9:00", "09:0"])
async def test_a_time_of_day_is_two_digits_a_colon_and_two_digits(runtime, time):
    body = {"timezone": "UTC", "working_hours": {"mon": [[time, "17:00"]]}}
    r = await runtime.client.put("/api/v1/calendars/odd", json=body, headers=runtime.auth(*ADMIN))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "working_hours", r.text


async def test_a_calendar_whose_holidays_leave_no_working_time_is_refused(runtime):
    today = dt.datetime.now(dt.UTC).date()
    sundays = [str(today + dt.timedelta(days=(6 - today.weekday()) % 7 + 7 * n)) for n in range(130)]
    body = {"timezone": "UTC", "working_hours": {"sun": [["09:00", "10:00"]]}, "holidays": sundays}
    r = await runtime.client.put("/api/v1/calendars/never", json=body, headers=runtime.auth(*ADMIN))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "holidays", r.text
