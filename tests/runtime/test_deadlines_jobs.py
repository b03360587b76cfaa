"""Time limits: the due time in working time, and the jobs that remind, raise overdue and
act (escalate, approve or reject, reassign) — run with `JobRunner.run_due(now=...)`."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from sqlalchemy import select, update

from bpm_common import jsonutil
from bpm_common.events.outbox import add_event_tables
from bpm_process.engine import return_to, terminate
from services.runtime.database import Base
from services.runtime.deadlines.worktime import add_working_time, default_calendar
from services.runtime.instances.models import instances
from services.runtime.instances.service import InstanceCommands
from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import JobRunner
from services.runtime.tasks.models import tasks
from tests.runtime.conftest import MODELS
from tests.runtime.test_assignment_rules import build_org

SECOND = dt.timedelta(seconds=1)


async def events(runtime, *types: str) -> list[dict[str, Any]]:
    """Outbox events of these types (`bpm.runtime.` left out), oldest first, as their data."""
    outbox, _ = add_event_tables(Base.metadata)
    async with runtime.db.connection() as conn:
        rows = (await conn.execute(select(outbox.c.payload).order_by(outbox.c.position))).all()
    found = [jsonutil.loads(row.payload) for row in rows]
    return [
        {"type": e["type"][len("bpm.runtime.") :], **e["data"]}
        for e in found
        if e["type"][len("bpm.runtime.") :] in types
    ]


async def deadline_jobs(runtime, task_id: str) -> dict[str, dt.datetime]:
    async with runtime.db.connection() as conn:
        rows = (
            await conn.execute(
                select(jobs.c.kind, jobs.c.due_at).where(jobs.c.task_id == UUID(task_id))
            )
        ).all()
    return {row.kind: row.due_at for row in rows}


async def task_row(runtime, task_id: str) -> dict[str, Any]:
    async with runtime.db.connection() as conn:
        return dict(
            (await conn.execute(select(tasks).where(tasks.c.id == UUID(task_id)))).mappings().one()
        )


async def start(
    runtime, model: str, key: str, *, initiator: str = "alice", text: str | None = None
) -> tuple[str, dict]:
    await runtime.publish(text.encode() if text else (MODELS / model).read_bytes(), key)
    response = await runtime.client.post(
        "/api/v1/process-instances", json={"definition_key": key}, headers=runtime.auth(initiator)
    )
    assert response.status_code == 201, response.text
    instance_id = response.json()["id"]
    return instance_id, await open_task(runtime, instance_id)


async def open_task(runtime, instance_id: str) -> dict[str, Any]:
    [task] = (
        await runtime.client.get(
            f"/api/v1/tasks?scope=all&instance_id={instance_id}",
            headers=runtime.auth("admin", "admin"),
        )
    ).json()["items"]
    return task


async def history(runtime, instance_id: str) -> list[dict[str, Any]]:
    return (
        await runtime.client.get(
            f"/api/v1/process-instances/{instance_id}/history",
            headers=runtime.auth("admin", "admin"),
        )
    ).json()["items"]


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def runner(runtime) -> JobRunner:
    return JobRunner(runtime.client.app.state.ctx)


async def execute(runtime, instance_id: str, command) -> None:
    async with runtime.db.transaction() as session:
        await InstanceCommands(session, runtime.client.app.state.ctx).execute(
            UUID(instance_id), command, actor="admin"
        )


async def test_a_time_limit_sets_the_due_time_in_working_time_and_watches_it(runtime):
    await build_org(runtime)
    _, task = await start(runtime, "deadlines-escalate.bpmn", "deadline-escalate")
    row = await task_row(runtime, task["id"])
    due_at = add_working_time(row["created_at"], "PT4H", default_calendar())
    assert row["due_at"] == due_at and row["time_limit"] == "PT4H"
    assert dt.datetime.fromisoformat(task["due_at"]) == due_at
    assert await deadline_jobs(runtime, task["id"]) == {
        "deadline_overdue": due_at,
        "deadline_due_soon": due_at - dt.timedelta(hours=1),
    }


async def test_due_soon_then_overdue_escalates_up_the_department_tree(runtime):
    await build_org(runtime)
    instance_id, task = await start(runtime, "deadlines-escalate.bpmn", "deadline-escalate")
    due_at = (await task_row(runtime, task["id"]))["due_at"]
    jobs_runner = runner(runtime)

    assert await jobs_runner.run_due(now=due_at - dt.timedelta(hours=1) + SECOND) == 1
    [soon] = await events(runtime, "task.due_soon")
    assert (soon["task_id"], soon["assignee"], moment(soon["due_at"])) == (
        task["id"],
        "carol",
        due_at,
    )
    assert await events(runtime, "task.overdue") == []

    assert await jobs_runner.run_due(now=due_at + SECOND) == 1
    [overdue] = await events(runtime, "task.overdue")
    assert (overdue["action"], overdue["assignee"]) == ("escalate", "carol")
    [first] = await events(runtime, "task.escalated")
    assert (first["level"], first["escalated_to"]) == (1, ["carol", "alice", "dave"])
    assert (await task_row(runtime, task["id"]))["escalation_level"] == 1
    second_at = add_working_time(due_at, "PT4H", default_calendar())
    assert await deadline_jobs(runtime, task["id"]) == {"deadline_escalate": second_at}

    assert await jobs_runner.run_due(now=second_at - SECOND) == 0
    assert await jobs_runner.run_due(now=second_at + SECOND) == 1
    levels = await events(runtime, "task.escalated")
    assert [(e["level"], e["escalated_to"]) for e in levels] == [
        (1, ["carol", "alice", "dave"]),
        (2, ["carol", "alice", "ceo"]),
    ]
    assert await deadline_jobs(runtime, task["id"]) == {}, "nobody further up: escalation ends"
    actions = [item["action"] for item in await history(runtime, instance_id)]
    assert actions[-4:] == ["task_due_soon", "task_overdue", "task_escalated", "task_escalated"]


async def test_completing_a_task_removes_its_jobs_and_the_next_task_gets_its_own(runtime):
    await build_org(runtime)
    instance_id, task = await start(runtime, "deadlines-escalate.bpmn", "deadline-escalate")
    done = await runtime.client.post(
        f"/api/v1/tasks/{task['id']}/complete", json={}, headers=runtime.auth("carol")
    )
    assert done.status_code == 200, done.text
    assert await deadline_jobs(runtime, task["id"]) == {}
    pay = await open_task(runtime, instance_id)
    row = await task_row(runtime, pay["id"])
    assert row["due_at"] == add_working_time(row["created_at"], "P1D", default_calendar())
    assert await deadline_jobs(runtime, pay["id"]) == {
        "deadline_overdue": row["due_at"],
        "deadline_due_soon": row["due_at"] - dt.timedelta(hours=2),
    }
    assert await runner(runtime).run_due(now=row["due_at"] + SECOND) == 2
    assert [e["task_id"] for e in await events(runtime, "task.overdue")] == [pay["id"]]


async def test_a_returned_to_task_is_new_with_a_new_deadline_and_termination_drops_the_jobs(
    runtime,
):
    await build_org(runtime)
    instance_id, review = await start(runtime, "deadlines-escalate.bpmn", "deadline-escalate")
    await runtime.client.post(
        f"/api/v1/tasks/{review['id']}/complete", json={}, headers=runtime.auth("carol")
    )
    pay = await open_task(runtime, instance_id)
    await execute(
        runtime,
        instance_id,
        lambda graph, state, now, nid: return_to(
            graph, state, pay["id"], "review", now=now, new_id=nid, reason="wrong amount"
        ),
    )
    assert await deadline_jobs(runtime, pay["id"]) == {}
    again = await open_task(runtime, instance_id)
    assert again["id"] != review["id"] and again["node_id"] == "review"
    row = await task_row(runtime, again["id"])
    assert set(await deadline_jobs(runtime, again["id"])) == {
        "deadline_overdue",
        "deadline_due_soon",
    }
    assert row["due_at"] == add_working_time(row["created_at"], "PT4H", default_calendar())

    await execute(
        runtime,
        instance_id,
        lambda graph, state, now, nid: terminate(graph, state, reason="stop", now=now, new_id=nid),
    )
    assert await deadline_jobs(runtime, again["id"]) == {}


async def test_a_transferred_task_keeps_its_deadline_and_escalates_from_its_new_assignee(runtime):
    await build_org(runtime)
    _, task = await start(runtime, "deadlines-escalate.bpmn", "deadline-escalate")
    before = await task_row(runtime, task["id"])
    async with runtime.db.transaction() as session:  # what a transfer changes on the task
        await session.execute(
            update(tasks).where(tasks.c.id == UUID(task["id"])).values(assignee="dave")
        )
    assert await runner(runtime).run_due(now=before["due_at"] + SECOND) == 2
    assert (await task_row(runtime, task["id"]))["due_at"] == before["due_at"]
    [overdue] = await events(runtime, "task.overdue")
    assert overdue["assignee"] == "dave" and moment(overdue["due_at"]) == before["due_at"]
    [escalated] = await events(runtime, "task.escalated")
    assert escalated["escalated_to"] == [
        "dave",
        "alice",
        "ceo",
    ]  # dave manages finance: his manager is above


async def test_a_delegated_task_escalates_to_its_owner_and_the_owners_managers(runtime):
    """委派: carol asks frank to do her task; it stays hers, so her manager hears of it."""
    await build_org(runtime)
    _, task = await start(runtime, "deadlines-escalate.bpmn", "deadline-escalate")
    delegated = await runtime.client.post(
        f"/api/v1/tasks/{task['id']}/delegate", json={"to": "frank"}, headers=runtime.auth("carol")
    )
    assert delegated.status_code == 200, delegated.text
    due = (await task_row(runtime, task["id"]))["due_at"]
    assert await runner(runtime).run_due(now=due + SECOND) == 2
    [escalated] = await events(runtime, "task.escalated")
    assert escalated["escalated_to"] == ["frank", "carol", "alice", "dave"]


async def test_auto_approve_completes_the_approval_as_the_system(runtime):
    await build_org(runtime)
    instance_id, task = await start(runtime, "deadlines-auto-approve.bpmn", "deadline-auto")
    assert task["candidate_users"] == ["bob"]
    due_at = (await task_row(runtime, task["id"]))["due_at"]
    await runner(runtime).run_due(now=due_at + SECOND)
    [overdue] = await events(runtime, "task.overdue")
    assert overdue["action"] == "auto_approve"
    [completed] = await events(runtime, "task.completed")
    assert (completed["actor"], completed["outcome"]) == ("system", "approve")
    row = await task_row(runtime, task["id"])
    assert (row["state"], row["completed_by"]) == ("completed", "system")
    assert row["comment"] == "approved automatically: the time limit passed"
    archive = await open_task(runtime, instance_id)
    assert (archive["node_id"], archive["candidate_users"]) == ("archive", ["alice"])
    [entry] = [h for h in await history(runtime, instance_id) if h["action"] == "task_completed"]
    assert (entry["actor"], entry["comment"]) == (
        "system",
        "approved automatically: the time limit passed",
    )


async def test_auto_reject_completes_the_approval_as_rejected(runtime):
    await build_org(runtime)
    text = (
        (MODELS / "deadlines-auto-approve.bpmn").read_text().replace("auto_approve", "auto_reject")
    )
    instance_id, task = await start(runtime, "", "deadline-auto", text=text)
    await runner(runtime).run_due(now=(await task_row(runtime, task["id"]))["due_at"] + SECOND)
    [completed] = await events(runtime, "task.completed")
    assert (completed["actor"], completed["outcome"]) == ("system", "reject")
    view = (
        await runtime.client.get(
            f"/api/v1/process-instances/{instance_id}", headers=runtime.auth("alice")
        )
    ).json()
    assert view["state"] == "completed"
    assert view["variables"]["approve_outcome"] == "rejected"


async def test_reassign_hands_the_task_to_the_named_people(runtime):
    await build_org(runtime)
    _, task = await start(runtime, "deadlines-reassign.bpmn", "deadline-reassign")
    assert task["candidate_users"] == ["carol"]
    await runner(runtime).run_due(now=(await task_row(runtime, task["id"]))["due_at"] + SECOND)
    [assigned] = await events(runtime, "task.assigned")
    assert (
        assigned["kind"],
        assigned["assignee"],
        assigned["previous_assignee"],
        assigned["actor"],
    ) == ("escalation", "dave", None, "system")
    trail = (await runtime.client.get(
        f"/api/v1/process-instances/{task['instance_id']}/history", headers=runtime.auth("admin", "admin")
    )).json()["items"]
    [entry] = [e for e in trail if e["action"] == "task_reassigned_on_timeout"]
    assert entry["details"]["previous_candidate_users"] == ["carol"], "from whom, not only to whom"
    [mine] = (await runtime.client.get("/api/v1/tasks", headers=runtime.auth("dave"))).json()[
        "items"
    ]
    assert mine["id"] == task["id"] and mine["assignee"] == "dave"
    assert (await runtime.client.get("/api/v1/tasks", headers=runtime.auth("carol"))).json()[
        "items"
    ] == []


async def test_reassign_to_nobody_offers_the_task_to_admin_and_says_why(runtime):
    await build_org(runtime)
    text = (MODELS / "deadlines-reassign.bpmn").read_text().replace("user:dave", "role:auditor")
    instance_id, task = await start(runtime, "", "deadline-reassign", text=text)
    await runner(runtime).run_due(now=(await task_row(runtime, task["id"]))["due_at"] + SECOND)
    row = await task_row(runtime, task["id"])
    assert (row["assignee"], row["candidate_users"], row["candidate_roles"]) == (
        None,
        [],
        ["admin"],
    )
    [entry] = [
        h for h in await history(runtime, instance_id) if h["action"] == "assignment_unresolved"
    ]
    assert entry["details"] == {
        "rule": "role:auditor",
        "reason": "no active user holds the role auditor",
    }


async def test_a_plain_due_date_only_raises_overdue(runtime):
    await build_org(runtime)
    _, task = await start(runtime, "deadlines-due-date.bpmn", "deadline-due-date")
    row = await task_row(runtime, task["id"])
    assert row["due_at"] == row["created_at"] + dt.timedelta(hours=3), "dueDate stays calendar time"
    assert await deadline_jobs(runtime, task["id"]) == {"deadline_overdue": row["due_at"]}
    assert await runner(runtime).run_due(now=row["due_at"] + SECOND) == 1
    [overdue] = await events(runtime, "task.overdue")
    assert overdue["action"] == "none"
    assert await events(runtime, "task.due_soon", "task.escalated") == []


async def test_a_suspended_instance_holds_its_deadline_jobs(runtime):
    await build_org(runtime)
    instance_id, task = await start(runtime, "deadlines-due-date.bpmn", "deadline-due-date")
    due_at = (await task_row(runtime, task["id"]))["due_at"]
    async with runtime.db.transaction() as session:
        await session.execute(
            update(instances).where(instances.c.id == UUID(instance_id)).values(suspended=True)
        )
    assert await runner(runtime).run_due(now=due_at + SECOND) == 1
    assert await events(runtime, "task.overdue") == []
    assert "deadline_overdue" in await deadline_jobs(runtime, task["id"]), (
        "it waits, looked at again later"
    )
