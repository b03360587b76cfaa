"""Deadlines recounted by migrations in a row, and kept through a renamed node whose rules
stayed."""

from __future__ import annotations

from services.runtime.deadlines.worktime import add_working_time, default_calendar
from services.runtime.jobs.worker import JobRunner
from tests.runtime.test_migration_deadlines import ADMIN, KEY, MODEL, SIGN, _jobs, _task, _versions


async def _apply(runtime, v1: str, v2: str, **options) -> dict:
    r = await runtime.client.post("/api/v1/migrations", json={"from_definition_id": v1, "to_definition_id": v2,
                                                               **options}, headers=runtime.auth(*ADMIN))
    assert r.status_code == 202, r.text
    await JobRunner(runtime.client.app.state.ctx).run_one()
    return (await runtime.client.get(f"/api/v1/migrations/{r.json()['id']}", headers=runtime.auth(*ADMIN))).json()


async def test_migrated_twice_counts_each_time_from_the_task_creation(runtime):
    v1, v2, instance_id = await _versions(
        runtime, 'camunda:assignee="carol" bpm:timeLimit="PT4H"', 'camunda:assignee="carol" bpm:timeLimit="P2D"')
    done = await _apply(runtime, v1, v2)
    assert done["migrated"] == 1, done
    v3 = await runtime.publish(MODEL.format(key=KEY, check='camunda:assignee="carol" bpm:timeLimit="PT8H"',
                                            sign=SIGN).encode(), KEY, version=3)
    done = await _apply(runtime, v2, v3)
    assert done["migrated"] == 1, done
    check = await _task(runtime, instance_id, "check")
    assert check["due_at"] == add_working_time(check["created_at"], "PT8H", default_calendar())
    overdue = [j for j in await _jobs(runtime, check["id"]) if j["kind"] == "deadline_overdue"]
    assert [j["due_at"] for j in overdue] == [check["due_at"]]
    assert check["definition_version"] == 3


async def test_a_renamed_node_with_the_same_rules_keeps_its_jobs(runtime):
    v1, _, instance_id = await _versions(
        runtime, 'camunda:assignee="carol" bpm:timeLimit="PT4H"', 'camunda:assignee="carol" bpm:timeLimit="PT4H"')
    renamed = MODEL.format(key=KEY, check='camunda:assignee="carol" bpm:timeLimit="PT4H"', sign=SIGN)
    renamed = renamed.replace('"check"', '"verify"')
    v3 = await runtime.publish(renamed.encode(), KEY, version=3)
    check = await _task(runtime, instance_id, "check")
    before = {j["id"] for j in await _jobs(runtime, check["id"])}
    done = await _apply(runtime, v1, v3, mapping={"check": "verify"})
    assert done["migrated"] == 1, done
    after = await _jobs(runtime, check["id"])
    assert {j["id"] for j in after} == before and {j["node_id"] for j in after} == {"verify"}
