"""Migration: embedded sub-processes (plain, with an event sub-process, multi-instance),
deadlines, and the records a migration writes."""

from __future__ import annotations

import datetime as dt

from services.runtime.jobs.worker import JobRunner
from tests.migration_states.helpers import bpmn, instance_jobs, instance_subs, migrate_all
from tests.runtime.test_operations_helpers import (
    assert_chain_valid,
    events,
    history,
    instance,
    open_tasks,
    post,
    start,
)

TASK = '<userTask id="{0}" name="{1}" camunda:assignee="carol"/>'


def _sub(sub_id: str, multi: bool = False, timed: bool = False) -> bytes:
    loop = ('<multiInstanceLoopCharacteristics isSequential="false" camunda:collection="${items}" '
            'camunda:elementVariable="item"/>' if multi else '')
    esp = ('<subProcess id="inner_esp" triggeredByEvent="true"><startEvent id="inner_start" isInterrupting="false">'
           '<messageEventDefinition messageRef="m"/></startEvent>' + TASK.format("note", "Note") + '<endEvent id="ne"/>'
           '<sequenceFlow id="n1" sourceRef="inner_start" targetRef="note"/>'
           '<sequenceFlow id="n2" sourceRef="note" targetRef="ne"/></subProcess>')
    deadline = ' bpm:timeLimit="PT4H" bpm:remindBefore="PT1H"' if timed else ''
    body = (f'<startEvent id="s"/><subProcess id="{sub_id}">{loop}<startEvent id="ss"/>'
            f'<userTask id="check" name="Check" camunda:assignee="carol"{deadline}/>'
            '<endEvent id="se"/><sequenceFlow id="i1" sourceRef="ss" targetRef="check"/>'
            f'<sequenceFlow id="i2" sourceRef="check" targetRef="se"/>{esp}</subProcess>'
            + TASK.format("after", "After") + '<endEvent id="e"/>')
    return bpmn("subp", body, f"s>{sub_id}", f"{sub_id}>after", "after>e", roots='<message id="m" name="note-it"/>')


async def test_a_renamed_embedded_sub_process_with_an_event_sub_process_inside(runtime):
    v1 = await runtime.publish(_sub("sub"), "subp", version=1)
    inst = await start(runtime, "subp")
    v2 = await runtime.publish(_sub("sub2"), "subp", version=2)
    done = await migrate_all(runtime, v1, v2, {"sub": "sub2"})
    assert (done["migrated"], done["failed"]) == (1, 0), done["failures"]
    assert [(s["kind"], s["node_id"]) for s in await instance_subs(runtime, inst["id"])] == [("message", "inner_start")]
    r = await runtime.client.post("/api/v1/messages", json={"name": "note-it"}, headers=runtime.auth("erp-bot", "worker"))
    assert r.status_code == 200, r.text
    tasks = await open_tasks(runtime, inst["id"])
    assert sorted(t["node_id"] for t in tasks) == ["check", "note"]
    for task in tasks:
        last = await post(runtime, f"/tasks/{task['id']}/complete", ("carol",))
        assert last.status_code == 200, last.text
    assert (await instance(runtime, inst["id"]))["active_nodes"] == ["after"]
    await assert_chain_valid(runtime, inst["id"])


async def test_a_multi_instance_sub_process_partly_done_with_deadlines(runtime):
    v1 = await runtime.publish(_sub("sub", multi=True, timed=True), "subp", version=1)
    r = await runtime.client.post("/api/v1/process-instances", headers=runtime.auth("alice"),
                                  json={"definition_key": "subp", "variables": {"items": [1, 2, 3]}})
    inst = r.json()
    tasks = await open_tasks(runtime, inst["id"])
    assert len(tasks) == 3
    assert (await post(runtime, f"/tasks/{tasks[0]['id']}/complete", ("carol",))).status_code == 200
    before = sorted((j["kind"], j["node_id"], j["task_id"], j["due_at"]) for j in await instance_jobs(runtime, inst["id"])
                    if j["kind"].startswith("deadline"))
    assert len(before) == 4
    v2 = await runtime.publish(_sub("sub2", multi=True, timed=True), "subp", version=2)
    done = await migrate_all(runtime, v1, v2, {"sub": "sub2"})
    assert (done["migrated"], done["failed"]) == (1, 0), done["failures"]
    after = sorted((j["kind"], j["node_id"], j["task_id"], j["due_at"]) for j in await instance_jobs(runtime, inst["id"])
                   if j["kind"].startswith("deadline"))
    assert after == before, "deadline jobs neither lost nor doubled"
    subs = await instance_subs(runtime, inst["id"])
    assert len(subs) == 2, "one event sub-process per running instance"
    for task in (await open_tasks(runtime, inst["id"])):
        last = await post(runtime, f"/tasks/{task['id']}/complete", ("carol",))
    assert last.json()["active_nodes"] == ["after"], last.text
    assert await instance_subs(runtime, inst["id"]) == []
    await assert_chain_valid(runtime, inst["id"])


async def test_the_records_of_a_migration(runtime):
    v1 = await runtime.publish(_sub("sub", timed=True), "subp", version=1)
    inst = await start(runtime, "subp")
    v2 = await runtime.publish(_sub("sub2", timed=True), "subp", version=2)
    before = await events(runtime)
    await migrate_all(runtime, v1, v2, {"sub": "sub2"})
    new = [e for e in (await events(runtime))[len(before):] if e["data"].get("instance_id") == inst["id"]]
    assert [e["type"] for e in new] == ["bpm.runtime.instance.migrated"], [e["type"] for e in new]
    sequences = [e["sequence"] for e in await events(runtime) if e["subject"] == inst["id"]] \
        if "subject" in new[0] else []
    assert sequences == sorted(set(sequences))
    entries = [h for h in await history(runtime, inst["id"]) if h["action"] == "instance_migrated"]
    assert len(entries) == 1 and entries[0]["details"]["mapping"]["sub"] == "sub2"
    await assert_chain_valid(runtime, inst["id"])
    # the deadline still runs: due soon, then overdue, on the v2 graph
    runner = JobRunner(runtime.client.app.state.ctx)
    await runner.run_due(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    actions = [h["action"] for h in await history(runtime, inst["id"])]
    assert "task_overdue" in actions, actions
    await assert_chain_valid(runtime, inst["id"])


async def test_a_refused_instance_writes_nothing(runtime):
    v1 = await runtime.publish(_sub("sub"), "subp", version=1)
    inst = await start(runtime, "subp")
    trail = await history(runtime, inst["id"])
    v2 = await runtime.publish(_sub("sub2"), "subp", version=2)
    done = await migrate_all(runtime, v1, v2)  # no mapping: refused
    assert (done["migrated"], done["failed"]) == (0, 1), done
    assert await history(runtime, inst["id"]) == trail
    view = await instance(runtime, inst["id"])
    assert view["definition_version"] == 1
    assert [t["definition_version"] for t in await open_tasks(runtime, inst["id"])] == [1]
