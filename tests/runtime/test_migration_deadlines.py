"""Deadlines through a migration: open tasks at nodes whose deadline rules changed follow
the new version (due time counted again from the task's creation, jobs replaced, the new
timeout action carried out); tasks at other nodes keep their jobs row for row; the dry
run shows what would change; `update_deadlines: false` keeps everything as it was."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from services.runtime.deadlines.worktime import add_working_time, default_calendar
from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import JobRunner
from services.runtime.tasks.models import tasks
from tests.runtime.test_assignment_rules import build_org
from tests.runtime.test_deadlines_jobs import events, history, task_row

ADMIN = ("admin", "admin")
SECOND = dt.timedelta(seconds=1)
KEY = "deadline-migration"
MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
             xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0" targetNamespace="t">
  <process id="{key}" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
    <parallelGateway id="fork"/>
    <sequenceFlow id="f2" sourceRef="fork" targetRef="check"/>
    <sequenceFlow id="f3" sourceRef="fork" targetRef="sign"/>
    <userTask id="check" name="Check" {check}/>
    <userTask id="sign" name="Sign" {sign}/>
    <sequenceFlow id="f4" sourceRef="check" targetRef="join"/>
    <sequenceFlow id="f5" sourceRef="sign" targetRef="join"/>
    <parallelGateway id="join"/>
    <sequenceFlow id="f6" sourceRef="join" targetRef="done"/>
    <endEvent id="done"/>
  </process>
</definitions>"""
SIGN = 'camunda:assignee="erin"'


async def _versions(
    runtime, check_v1: str, check_v2: str, *, sign_v1: str = SIGN, sign_v2: str = SIGN
) -> tuple[str, str, str]:
    """Version 1 and 2 of a process with the tasks `check` and `sign` in parallel, and an
    instance of version 1 (started by alice) waiting at both."""
    await build_org(runtime)
    v1 = await runtime.publish(MODEL.format(key=KEY, check=check_v1, sign=sign_v1).encode(), KEY, version=1)
    r = await runtime.client.post(
        "/api/v1/process-instances", json={"definition_key": KEY}, headers=runtime.auth("alice")
    )
    assert r.status_code == 201, r.text
    v2 = await runtime.publish(MODEL.format(key=KEY, check=check_v2, sign=sign_v2).encode(), KEY, version=2)
    return v1, v2, r.json()["id"]


async def _task(runtime, instance_id: str, node_id: str) -> dict[str, Any]:
    async with runtime.db.connection() as conn:
        row = (
            await conn.execute(
                select(tasks).where(tasks.c.instance_id == UUID(instance_id), tasks.c.node_id == node_id)
            )
        ).mappings().one()
    return dict(row)


async def _jobs(runtime, task_id: UUID) -> list[dict[str, Any]]:
    async with runtime.db.connection() as conn:
        rows = (
            await conn.execute(select(jobs).where(jobs.c.task_id == task_id).order_by(jobs.c.kind))
        ).mappings()
        return [dict(row) for row in rows]


async def _kinds(runtime, task_id: UUID) -> dict[str, dt.datetime]:
    return {job["kind"]: job["due_at"] for job in await _jobs(runtime, task_id)}


async def _created(runtime, task_id: UUID, at: dt.datetime) -> None:
    """The task was created at `at` (its jobs left as they are)."""
    async with runtime.db.transaction() as session:
        await session.execute(update(tasks).where(tasks.c.id == task_id).values(created_at=at))


async def _migrate(runtime, v1: str, v2: str, **options: Any) -> dict[str, Any]:
    r = await runtime.client.post(
        "/api/v1/migrations",
        json={"from_definition_id": v1, "to_definition_id": v2, **options},
        headers=runtime.auth(*ADMIN),
    )
    assert r.status_code == 202, r.text
    assert await JobRunner(runtime.client.app.state.ctx).run_one() is True  # the one batch
    done = (await runtime.client.get(f"/api/v1/migrations/{r.json()['id']}", headers=runtime.auth(*ADMIN))).json()
    assert (done["state"], done["migrated"], done["failures"]) == ("completed", 1, []), done
    assert done["update_deadlines"] is options.get("update_deadlines", True), "the option is recorded"
    return done


async def _run_at(runtime, moment: dt.datetime) -> int:
    return await JobRunner(runtime.client.app.state.ctx).run_due(now=moment)


async def _migrated_entry(runtime, instance_id: str) -> dict[str, Any]:
    return next(h for h in await history(runtime, instance_id) if h["action"] == "instance_migrated")


async def test_a_changed_time_limit_moves_the_due_time_and_the_overdue_job(runtime):
    v1, v2, instance_id = await _versions(
        runtime, 'camunda:assignee="carol" bpm:timeLimit="PT4H"', 'camunda:assignee="carol" bpm:timeLimit="P2D"'
    )
    check = await _task(runtime, instance_id, "check")
    old_jobs = await _jobs(runtime, check["id"])
    old_due = check["due_at"]
    new_due = add_working_time(check["created_at"], "P2D", default_calendar())
    assert old_due == add_working_time(check["created_at"], "PT4H", default_calendar()) < new_due

    await _migrate(runtime, v1, v2)
    row = await task_row(runtime, str(check["id"]))
    assert (row["due_at"], row["time_limit"], row["definition_version"]) == (new_due, "P2D", 2)
    assert await _kinds(runtime, check["id"]) == {
        "deadline_overdue": new_due,
        "deadline_due_soon": new_due - dt.timedelta(hours=1),
    }
    assert not {j["id"] for j in old_jobs} & {j["id"] for j in await _jobs(runtime, check["id"])}
    tasks_api = await runtime.client.get(
        "/api/v1/tasks", params={"instance_id": instance_id}, headers=runtime.auth("carol")
    )
    [listed] = tasks_api.json()["items"]
    assert dt.datetime.fromisoformat(listed["due_at"]) == new_due
    [changed] = (await _migrated_entry(runtime, instance_id))["details"]["deadlines_changed"]
    assert (changed["task_id"], changed["node_id"], changed["time_limit_before"], changed["time_limit"]) == (
        str(check["id"]), "check", "PT4H", "P2D"
    )
    assert dt.datetime.fromisoformat(changed["due_at_before"]) == old_due
    assert dt.datetime.fromisoformat(changed["due_at"]) == new_due

    # the old due time passes unnoticed; the new one raises overdue and escalates
    assert await _run_at(runtime, old_due + SECOND) == 0
    assert await events(runtime, "task.overdue") == []
    assert await _run_at(runtime, new_due + SECOND) == 2  # reminder, then overdue
    [overdue] = await events(runtime, "task.overdue")
    assert (overdue["task_id"], dt.datetime.fromisoformat(overdue["due_at"]), overdue["action"]) == (
        str(check["id"]), new_due, "escalate"
    )
    [escalated] = await events(runtime, "task.escalated")
    assert (escalated["level"], escalated["escalated_to"]) == (1, ["carol", "alice", "dave"])


async def test_a_changed_timeout_action_is_the_one_carried_out(runtime):
    v1, v2, instance_id = await _versions(
        runtime,
        'camunda:assignee="carol" bpm:approval="true" bpm:timeLimit="PT2H" bpm:timeoutAction="escalate"',
        'camunda:assignee="carol" bpm:approval="true" bpm:timeLimit="PT2H" bpm:timeoutAction="auto_approve"',
    )
    check = await _task(runtime, instance_id, "check")
    await _migrate(runtime, v1, v2)
    assert (await task_row(runtime, str(check["id"])))["due_at"] == check["due_at"], "same limit, same time"
    [overdue_job] = [j for j in await _jobs(runtime, check["id"]) if j["kind"] == "deadline_overdue"]
    assert overdue_job["payload"]["action"] == "auto_approve"

    await _run_at(runtime, check["due_at"] + SECOND)
    [overdue] = await events(runtime, "task.overdue")
    assert overdue["action"] == "auto_approve"
    assert await events(runtime, "task.escalated") == []
    done = await task_row(runtime, str(check["id"]))
    assert (done["state"], done["completed_by"], done["outcome"]["outcome"]) == ("completed", "system", "approve")
    assert (await _task(runtime, instance_id, "sign"))["state"] == "open"


async def test_tasks_at_nodes_whose_deadline_rules_did_not_change_keep_their_jobs(runtime):
    # `sign` changes its assignee and writes out the default reminder: same deadline rules
    v1, v2, instance_id = await _versions(
        runtime,
        'camunda:assignee="carol" bpm:timeLimit="PT4H"',
        'camunda:assignee="carol" bpm:timeLimit="PT6H"',
        sign_v1='camunda:assignee="erin" bpm:timeLimit="P1D"',
        sign_v2='camunda:assignee="dave" bpm:timeLimit="P1D" bpm:remindBefore="PT1H" bpm:timeoutAction="escalate"',
    )
    sign = await _task(runtime, instance_id, "sign")
    check = await _task(runtime, instance_id, "check")
    sign_jobs = await _jobs(runtime, sign["id"])
    assert len(sign_jobs) == 2

    await _migrate(runtime, v1, v2)
    assert await _jobs(runtime, sign["id"]) == sign_jobs, "the same rows: ids, due times, payloads"
    after = await _task(runtime, instance_id, "sign")
    assert (after["due_at"], after["time_limit"], after["assignee"]) == (sign["due_at"], "P1D", "erin")
    assert (await _task(runtime, instance_id, "check"))["due_at"] == add_working_time(
        check["created_at"], "PT6H", default_calendar()
    )
    [changed] = (await _migrated_entry(runtime, instance_id))["details"]["deadlines_changed"]
    assert changed["node_id"] == "check"


async def test_a_node_without_a_deadline_in_the_new_version_drops_it(runtime):
    v1, v2, instance_id = await _versions(
        runtime, 'camunda:assignee="carol" bpm:timeLimit="PT4H"', 'camunda:assignee="carol"'
    )
    check = await _task(runtime, instance_id, "check")
    await _migrate(runtime, v1, v2)
    row = await task_row(runtime, str(check["id"]))
    assert (row["due_at"], row["time_limit"]) == (None, None)
    assert await _jobs(runtime, check["id"]) == []
    [changed] = (await _migrated_entry(runtime, instance_id))["details"]["deadlines_changed"]
    assert (changed["due_at"], changed["time_limit"], changed["timeout_action"]) == (None, None, None)
    assert await _run_at(runtime, check["due_at"] + SECOND) == 0


async def test_a_deadline_already_past_fires_at_once_without_a_reminder_and_escalates_further(runtime):
    v1, v2, instance_id = await _versions(
        runtime, 'camunda:assignee="carol" bpm:timeLimit="PT4H"', 'camunda:assignee="carol" bpm:timeLimit="PT8H"'
    )
    check = await _task(runtime, instance_id, "check")
    # created two weeks ago and escalated once already under version 1's limit
    created = dt.datetime(2025, 6, 2, 1, tzinfo=dt.UTC)  # a Monday, 09:00 in Shanghai
    await _created(runtime, check["id"], created)
    assert await _run_at(runtime, check["due_at"] + SECOND) == 2
    assert (await task_row(runtime, str(check["id"])))["escalation_level"] == 1
    assert list(await _kinds(runtime, check["id"])) == ["deadline_escalate"]

    await _migrate(runtime, v1, v2)
    new_due = add_working_time(created, "PT8H", default_calendar())
    assert (await task_row(runtime, str(check["id"])))["due_at"] == new_due
    assert await _kinds(runtime, check["id"]) == {"deadline_overdue": new_due}, "no reminder: too late"
    assert await JobRunner(runtime.client.app.state.ctx).run_due() == 1  # due already: runs now
    overdue = await events(runtime, "task.overdue")
    assert [dt.datetime.fromisoformat(o["due_at"]) for o in overdue] == [check["due_at"], new_due]
    levels = [(e["level"], e["escalated_to"]) for e in await events(runtime, "task.escalated")]
    assert levels == [(1, ["carol", "alice", "dave"]), (2, ["carol", "alice", "ceo"])]


async def test_without_update_deadlines_every_task_keeps_its_deadline(runtime):
    """Today's behaviour, on request: the old version's deadline rules stay."""
    v1, v2, instance_id = await _versions(
        runtime,
        'camunda:assignee="carol" bpm:timeLimit="PT4H"',
        'camunda:assignee="carol" bpm:timeLimit="P2D" bpm:timeoutAction="none"',
    )
    check = await _task(runtime, instance_id, "check")
    before = await _jobs(runtime, check["id"])
    body = {"from_definition_id": v1, "to_definition_id": v2, "update_deadlines": False}
    dry = await runtime.client.post("/api/v1/migrations/dry-run", json=body, headers=runtime.auth(*ADMIN))
    assert dry.status_code == 200, dry.text
    [item] = dry.json()["items"]
    assert item["status"] == "ok" and item.get("deadlines") is None

    await _migrate(runtime, v1, v2, update_deadlines=False)
    row = await task_row(runtime, str(check["id"]))
    assert (row["due_at"], row["time_limit"], row["definition_version"]) == (check["due_at"], "PT4H", 2)
    assert await _jobs(runtime, check["id"]) == before
    details = (await _migrated_entry(runtime, instance_id))["details"]
    assert (details["update_deadlines"], details["deadlines_changed"]) == (False, [])


async def test_the_dry_run_lists_the_deadlines_that_would_change(runtime):
    v1, v2, instance_id = await _versions(
        runtime, 'camunda:assignee="carol" bpm:timeLimit="PT4H"', 'camunda:assignee="carol" bpm:timeLimit="P2D"'
    )
    check = await _task(runtime, instance_id, "check")
    before = await _jobs(runtime, check["id"])
    body = {"from_definition_id": v1, "to_definition_id": v2}
    dry = await runtime.client.post("/api/v1/migrations/dry-run", json=body, headers=runtime.auth(*ADMIN))
    assert dry.status_code == 200, dry.text
    [item] = dry.json()["items"]
    assert (item["instance_id"], item["status"]) == (instance_id, "ok")
    [change] = item["deadlines"]
    assert (change["task_id"], change["node_id"], change["time_limit_before"], change["time_limit"]) == (
        str(check["id"]), "check", "PT4H", "P2D"
    )
    assert dt.datetime.fromisoformat(change["due_at_before"]) == check["due_at"]
    assert dt.datetime.fromisoformat(change["due_at"]) == add_working_time(
        check["created_at"], "P2D", default_calendar()
    )
    assert change["timeout_action"] == "escalate"
    # nothing written
    assert (await task_row(runtime, str(check["id"])))["due_at"] == check["due_at"]
    assert await _jobs(runtime, check["id"]) == before
