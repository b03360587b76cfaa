"""Versions in flight: plan from the diff, dry run per instance, apply in batches with one
instance refused, history and events, task rows on the new version, due dates recounted
where the node's due date changed (see test_migration_deadlines.py)."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from sqlalchemy import select

from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import JobRunner
from tests.runtime.test_operations_helpers import (
    ADMIN,
    assert_chain_valid,
    events,
    history,
    instance,
    model,
    only_task,
    open_tasks,
    post,
    start,
)


async def _setup(runtime) -> tuple[str, str, list[dict], dict]:
    """Three instances waiting at `review` and one at `pay` (removed in version 2)."""
    v1 = await runtime.publish(model("migration-v1.bpmn"), "purchase", version=1)
    at_review = [await start(runtime, "purchase") for _ in range(3)]
    at_pay = await start(runtime, "purchase")
    review = await only_task(runtime, at_pay["id"], "review")
    assert (await post(runtime, f"/tasks/{review['id']}/complete", ("bob",))).status_code == 200
    v2 = await runtime.publish(model("migration-v2.bpmn"), "purchase", version=2)
    return v1, v2, at_review, at_pay


async def test_plan_and_dry_run(runtime):
    v1, v2, at_review, at_pay = await _setup(runtime)
    r = await post(
        runtime, "/migrations/plan", ADMIN, {"from_definition_id": v1, "to_definition_id": v2}
    )
    assert r.status_code == 200, r.text
    plan = r.json()
    assert (plan["from_version"], plan["to_version"]) == (1, 2)
    assert plan["removed"] == ["pay"] and plan["added"] == ["audit"] and "review" in plan["mapped"]
    assert [risk["node_id"] for risk in plan["unmapped_active_risks"]] == ["pay"]
    assert plan["mapping"] == {"pay": None}
    assert plan["active_instances"] == 4 and plan["waiting_at"] == {"review": 3, "pay": 1}

    body = {"from_definition_id": v1, "to_definition_id": v2}
    r = await post(runtime, "/migrations/dry-run", ADMIN, body)
    assert r.status_code == 200, r.text
    items = {i["instance_id"]: i for i in r.json()["items"]}
    assert r.json()["summary"] == {"ok": 3, "refused": 1}
    refused = items[at_pay["id"]]
    assert (
        refused["status"] == "refused"
        and refused["node_id"] == "pay"
        and "pay" in refused["reason"]
    )
    ok = items[at_review[0]["id"]]
    assert ok["status"] == "ok" and [(m["from_node"], m["to_node"]) for m in ok["moves"]] == [
        ("review", "review")
    ]

    mapped = await post(
        runtime, "/migrations/dry-run", ADMIN, {**body, "mapping": {"pay": "audit"}}
    )
    assert mapped.json()["summary"] == {"ok": 4, "refused": 0}
    paged = await runtime.client.post(
        "/api/v1/migrations/dry-run", params={"limit": 3}, json=body, headers=runtime.auth(*ADMIN)
    )
    rest = await runtime.client.post(
        "/api/v1/migrations/dry-run",
        params={"limit": 3, "cursor": paged.json()["next_cursor"]},
        json=body,
        headers=runtime.auth(*ADMIN),
    )
    assert (
        len(paged.json()["items"]) == 3
        and len(rest.json()["items"]) == 1
        and rest.json()["next_cursor"] is None
    )
    # nothing was written
    assert (await instance(runtime, at_review[0]["id"]))["definition_version"] == 1


async def test_plan_refusals(runtime):
    v1, v2, _, _ = await _setup(runtime)
    other = await runtime.publish(model("operations-approval.bpmn"), "leave-request")
    body = {"from_definition_id": v1, "to_definition_id": v2}
    assert (await post(runtime, "/migrations/plan", ("bob",), body)).status_code == 403
    same = await post(
        runtime, "/migrations/plan", ADMIN, {"from_definition_id": v1, "to_definition_id": v1}
    )
    assert same.status_code == 422
    foreign = await post(
        runtime, "/migrations/plan", ADMIN, {"from_definition_id": v1, "to_definition_id": other}
    )
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "to_definition_id"
    missing = await post(
        runtime,
        "/migrations/plan",
        ADMIN,
        {"from_definition_id": v1, "to_definition_id": "00000000-0000-0000-0000-000000000000"},
    )
    assert missing.status_code == 404
    bad_mapping = await post(
        runtime, "/migrations/dry-run", ADMIN, {**body, "mapping": {"pay": "nowhere"}}
    )
    assert (
        bad_mapping.status_code == 422 and bad_mapping.json()["errors"][0]["field"] == "mapping.pay"
    )


async def test_apply_in_batches_with_one_refused_instance(runtime):
    v1, v2, at_review, at_pay = await _setup(runtime)
    due_before = {
        i["id"]: (await only_task(runtime, i["id"], "review"))["due_at"] for i in at_review
    }
    r = await post(
        runtime,
        "/migrations",
        ADMIN,
        {
            "from_definition_id": v1,
            "to_definition_id": v2,
            "batch_size": 2,
            "reason": "new audit step",
        },
    )
    assert r.status_code == 202, r.text
    migration = r.json()
    assert (migration["state"], migration["total"], migration["pending"]) == ("pending", 4, 4)

    runner = JobRunner(runtime.client.app.state.ctx)
    assert await runner.run_one() is True
    progress = (
        await runtime.client.get(
            f"/api/v1/migrations/{migration['id']}", headers=runtime.auth(*ADMIN)
        )
    ).json()
    assert progress["state"] == "running" and progress["migrated"] + progress["failed"] == 2
    assert await runner.run_one() is True
    assert await runner.run_one() is False, "the job removed itself when done"
    done = (
        await runtime.client.get(
            f"/api/v1/migrations/{migration['id']}", headers=runtime.auth(*ADMIN)
        )
    ).json()
    assert (done["state"], done["migrated"], done["failed"], done["pending"]) == (
        "completed",
        3,
        1,
        0,
    )
    [failure] = done["failures"]
    assert failure["instance_id"] == at_pay["id"] and "pay" in failure["error"]
    failed = await runtime.client.get(
        f"/api/v1/migrations/{migration['id']}/items",
        params={"state": "failed"},
        headers=runtime.auth(*ADMIN),
    )
    assert [i["instance_id"] for i in failed.json()["items"]] == [at_pay["id"]]

    for inst in at_review:
        assert (await instance(runtime, inst["id"]))["definition_version"] == 2
        review = await only_task(runtime, inst["id"], "review")
        # `review` went from dueDate P2D to P5D: counted again from the task's creation
        assert review["definition_version"] == 2 and dt.datetime.fromisoformat(
            review["due_at"]
        ) == dt.datetime.fromisoformat(due_before[inst["id"]]) + dt.timedelta(days=3)
        entry = next(
            h for h in await history(runtime, inst["id"]) if h["action"] == "instance_migrated"
        )
        assert (entry["actor"], entry["comment"]) == ("admin", "new audit step")
        assert (entry["details"]["from_version"], entry["details"]["to_version"]) == (1, 2)
        await assert_chain_valid(runtime, inst["id"])
    migrated = await events(runtime, "instance.migrated")
    assert sorted(e["data"]["instance_id"] for e in migrated) == sorted(i["id"] for i in at_review)
    assert all(
        (e["data"]["from_version"], e["data"]["to_version"], e["data"]["definition_version"])
        == (1, 2, 2)
        for e in migrated
    )

    # the migrated instance follows version 2; the refused one still runs on version 1
    review = await only_task(runtime, at_review[0]["id"], "review")
    done = await post(runtime, f"/tasks/{review['id']}/complete", ("bob",))
    assert done.json()["active_nodes"] == ["audit"], done.text
    assert (await instance(runtime, at_pay["id"]))["definition_version"] == 1
    [pay] = await open_tasks(runtime, at_pay["id"])
    assert pay["node_id"] == "pay" and pay["definition_version"] == 1
    await assert_chain_valid(runtime, at_pay["id"])


async def test_apply_to_chosen_instances_with_a_mapping(runtime):
    v1, v2, at_review, at_pay = await _setup(runtime)
    r = await post(
        runtime,
        "/migrations",
        ADMIN,
        {
            "from_definition_id": v1,
            "to_definition_id": v2,
            "mapping": {"pay": "audit"},
            "instance_ids": [at_pay["id"]],
        },
    )
    assert r.status_code == 202 and r.json()["total"] == 1, r.text
    await JobRunner(runtime.client.app.state.ctx).run_due()
    [task] = await open_tasks(runtime, at_pay["id"])
    assert (task["node_id"], task["name"], task["definition_version"]) == ("audit", "Audit", 2)
    assert task["assignee"] == "erin", "the open task keeps its assignee"
    assert (await instance(runtime, at_review[0]["id"]))["definition_version"] == 1
    done = await post(runtime, f"/tasks/{task['id']}/complete", ("erin",))
    assert done.json()["instance_state"] == "completed", done.text
    await assert_chain_valid(runtime, at_pay["id"])


RENAMED = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
             xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0" targetNamespace="t">
  <process id="{key}" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="{node}"/>
    {element}
    <sequenceFlow id="f2" sourceRef="{node}" targetRef="done"/>
    <endEvent id="done"/>
  </process>
</definitions>"""


def renamed(key: str, node: str, element: str) -> bytes:
    return RENAMED.format(key=key, node=node, element=element).encode()


async def _migrate(runtime, v1: str, v2: str, mapping: dict[str, str]) -> None:
    body = {"from_definition_id": v1, "to_definition_id": v2, "mapping": mapping}
    r = await post(runtime, "/migrations", ADMIN, body)
    assert r.status_code == 202, r.text
    await JobRunner(runtime.client.app.state.ctx).run_due()
    done = await runtime.client.get(f"/api/v1/migrations/{r.json()['id']}", headers=runtime.auth(*ADMIN))
    assert (done.json()["migrated"], done.json()["failed"]) == (1, 0), done.text


async def test_a_renamed_node_takes_its_work_item_and_open_incident_along(runtime):
    external = '<serviceTask id="{0}" name="{1}" camunda:type="external" camunda:topic="ledger"/>'
    v1 = await runtime.publish(renamed("ledger", "book", external.format("book", "Book")), "ledger", version=1)
    started = await start(runtime, "ledger")
    worker = ("ledger-bot", "worker")
    fetch = {"worker_id": "w1", "topics": [{"name": "ledger", "lock_duration_ms": 60_000}]}
    [item] = (await post(runtime, "/external-tasks/fetch-and-lock", worker, fetch)).json()
    failed = await post(runtime, f"/external-tasks/{item['id']}/failure", worker,
                        {"worker_id": "w1", "error_message": "ledger closed", "retries": 0})
    assert failed.status_code == 200, failed.text
    v2 = await runtime.publish(
        renamed("ledger", "post", external.format("post", "Post to the ledger")), "ledger", version=2
    )
    await _migrate(runtime, v1, v2, {"book": "post"})

    incidents = await runtime.client.get(
        "/api/v1/incidents", params={"instance_id": started["id"]}, headers=runtime.auth(*ADMIN)
    )
    [incident] = incidents.json()["items"]
    assert (incident["node_id"], incident["node_name"]) == ("post", "Post to the ledger")
    retried = await post(runtime, f"/incidents/{incident['id']}/retry", ADMIN, {"reason": "ledger open"})
    assert retried.status_code == 200, retried.text
    [again] = (await post(runtime, "/external-tasks/fetch-and-lock", worker, fetch)).json()
    assert (again["node_id"], again["node_name"]) == ("post", "Post to the ledger")
    done = await post(runtime, f"/external-tasks/{again['id']}/complete", worker, {"worker_id": "w1"})
    assert done.status_code == 200, done.text
    assert (await instance(runtime, started["id"]))["state"] == "completed"
    await assert_chain_valid(runtime, started["id"])


async def test_a_renamed_task_takes_its_deadline_jobs_along(runtime):
    task = '<userTask id="{0}" name="{0}" camunda:assignee="carol" bpm:timeLimit="PT4H" bpm:remindBefore="PT1H"/>'
    v1 = await runtime.publish(renamed("deadline-mig", "review", task.format("review")), "deadline-mig", version=1)
    started = await start(runtime, "deadline-mig")
    v2 = await runtime.publish(renamed("deadline-mig", "check", task.format("check")), "deadline-mig", version=2)
    await _migrate(runtime, v1, v2, {"review": "check"})

    async with runtime.db.connection() as conn:
        rows = (await conn.execute(select(jobs).where(jobs.c.instance_id == UUID(started["id"])))).mappings().all()
    assert sorted((row["kind"], row["node_id"]) for row in rows) == [
        ("deadline_due_soon", "check"), ("deadline_overdue", "check")
    ]


async def test_a_dry_run_of_listed_instances_pages_them_and_names_only_missing_ones(runtime):
    v1, v2, at_review, _ = await _setup(runtime)
    missing = "01900000-0000-7000-8000-000000000000"
    body = {"from_definition_id": v1, "to_definition_id": v2,
            "instance_ids": [i["id"] for i in at_review] + [missing]}
    seen: list[str] = []
    cursor = None
    while True:
        r = await runtime.client.post("/api/v1/migrations/dry-run", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                                      json=body, headers=runtime.auth(*ADMIN))
        assert r.status_code == 200, r.text
        for item in r.json()["items"]:
            assert item["reason"] != "no such process instance" or item["instance_id"] == missing, item
            seen.append(item["instance_id"])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(body["instance_ids"]), "each instance reported once"


async def test_a_mapping_that_merges_two_waiting_nodes_is_refused(runtime):
    v1, v2, _, _ = await _setup(runtime)
    r = await post(runtime, "/migrations/dry-run", ADMIN,
                   {"from_definition_id": v1, "to_definition_id": v2, "mapping": {"pay": "review"}})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"].startswith("mapping."), r.text
