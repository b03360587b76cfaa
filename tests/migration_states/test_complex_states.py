"""Migration: instances in complex states (called instances, signers, multi-instance,
event sub-processes, cycles, suspension, delegation) migrated, then driven to their end."""

from __future__ import annotations

import datetime as dt

from services.runtime.jobs.worker import JobRunner
from tests.migration_states.helpers import bpmn, engine_state, instance_jobs, migrate_all
from tests.runtime.conftest import MODELS
from tests.runtime.test_operations_helpers import (
    ADMIN,
    assert_chain_valid,
    history,
    instance,
    model,
    only_task,
    open_tasks,
    post,
    start,
)

TASK = '<userTask id="{0}" name="{1}" camunda:assignee="carol"/>'


async def _complete(runtime, task: dict, user: str | None = None) -> dict:
    r = await post(runtime, f"/tasks/{task['id']}/complete", (user or task["assignee"],))
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_renamed_call_activity_gets_its_called_instance_back(runtime):
    parent_xml = (MODELS / "calls-parent.bpmn").read_bytes()
    v1 = await runtime.publish(parent_xml, "loan-application", version=1)
    await runtime.publish((MODELS / "calls-child.bpmn").read_bytes(), "credit-check")
    r = await runtime.client.post("/api/v1/process-instances", headers=runtime.auth("alice"), json={
        "definition_key": "loan-application",
        "variables": {"checkProcess": "credit-check", "amount": 5000, "applicationId": "L-9"}})
    assert r.status_code == 201, r.text
    parent = r.json()
    v2 = await runtime.publish(parent_xml.replace(b'"credit_check"', b'"check"'), "loan-application", version=2)
    done = await migrate_all(runtime, v1, v2, {"credit_check": "check"})
    assert (done["migrated"], done["failed"]) == (1, 0), done["failures"]
    timers = [j for j in await instance_jobs(runtime, parent["id"]) if j["kind"] == "timer"]
    assert [j["node_id"] for j in timers] == ["check_too_slow"]
    children = (await runtime.client.get(f"/api/v1/process-instances/{parent['id']}/called-instances",
                                         headers=runtime.auth("alice"))).json()["items"]
    [child] = children
    [assess] = await open_tasks(runtime, child["id"])
    r = await runtime.client.post(f"/api/v1/tasks/{assess['id']}/complete",
                                  json={"variables": {"ok": True, "approvedAmount": 10}}, headers=runtime.auth("carol"))
    assert r.status_code == 200, r.text
    await JobRunner(runtime.client.app.state.ctx).run_due()
    view = await instance(runtime, parent["id"])
    assert view["active_nodes"] == ["sign"] and view["variables"]["granted"] == 10, view
    await assert_chain_valid(runtime, parent["id"])


async def test_a_called_instance_cancelled_by_a_timer_after_migration(runtime):
    parent_xml = (MODELS / "calls-parent.bpmn").read_bytes()
    v1 = await runtime.publish(parent_xml, "loan-application", version=1)
    await runtime.publish((MODELS / "calls-child.bpmn").read_bytes(), "credit-check")
    r = await runtime.client.post("/api/v1/process-instances", headers=runtime.auth("alice"), json={
        "definition_key": "loan-application",
        "variables": {"checkProcess": "credit-check", "amount": 5000, "applicationId": "L-9"}})
    parent = r.json()
    v2 = await runtime.publish(parent_xml.replace(b'"credit_check"', b'"check"'), "loan-application", version=2)
    await migrate_all(runtime, v1, v2, {"credit_check": "check"})
    [child] = (await runtime.client.get(f"/api/v1/process-instances/{parent['id']}/called-instances",
                                        headers=runtime.auth("alice"))).json()["items"]
    runner = JobRunner(runtime.client.app.state.ctx)
    assert await runner.run_due(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3)) >= 1
    assert (await instance(runtime, parent["id"]))["active_nodes"] == ["chase"]
    assert (await instance(runtime, child["id"]))["state"] == "terminated"


async def _at_manager(runtime) -> tuple[str, dict, dict]:
    v1 = await runtime.publish(model("operations-approval.bpmn"), "leave-request", version=1)
    for user in ("dave", "carol"):
        await runtime.user(user, department="sales")
    inst = await start(runtime, "leave-request")
    submit = await only_task(runtime, inst["id"], "submit")
    await post(runtime, f"/tasks/{submit['id']}/approve", ("alice",))
    return v1, inst, await only_task(runtime, inst["id"], "manager")


async def _v2_renamed(runtime) -> str:
    xml = model("operations-approval.bpmn").replace(b'"manager"', b'"manager2"')
    return await runtime.publish(xml, "leave-request", version=2)


async def test_signers_parallel_and_after_survive_a_rename(runtime):
    v1, inst, manager = await _at_manager(runtime)
    r = await post(runtime, f"/tasks/{manager['id']}/signers", ("bob",), {"user": "dave", "mode": "parallel"})
    assert r.status_code == 201, r.text
    r = await post(runtime, f"/tasks/{manager['id']}/signers", ("bob",), {"user": "carol", "mode": "after"})
    assert r.status_code == 201, r.text
    v2 = await _v2_renamed(runtime)
    done = await migrate_all(runtime, v1, v2, {"manager": "manager2"})
    assert (done["migrated"], done["failed"]) == (1, 0), done["failures"]
    tasks = await open_tasks(runtime, inst["id"])
    assert sorted((t["node_id"], t["assignee"]) for t in tasks) == [("manager2", "bob"), ("manager2", "dave")]
    for task in tasks:
        r = await post(runtime, f"/tasks/{task['id']}/approve", (task["assignee"],))
        assert r.status_code == 200, r.text
    [after] = await open_tasks(runtime, inst["id"])
    assert (after["node_id"], after["assignee"]) == ("manager2", "carol"), after
    r = await post(runtime, f"/tasks/{after['id']}/approve", ("carol",))
    assert r.json()["active_nodes"] == ["director"], r.text
    await assert_chain_valid(runtime, inst["id"])


async def test_a_signer_before_survives_a_rename(runtime):
    v1, inst, manager = await _at_manager(runtime)
    r = await post(runtime, f"/tasks/{manager['id']}/signers", ("bob",), {"user": "dave", "mode": "before"})
    assert r.status_code == 201, r.text
    v2 = await _v2_renamed(runtime)
    await migrate_all(runtime, v1, v2, {"manager": "manager2"})
    [dave] = await open_tasks(runtime, inst["id"])
    assert (dave["node_id"], dave["assignee"]) == ("manager2", "dave")
    r = await post(runtime, f"/tasks/{dave['id']}/approve", ("dave",))
    assert r.status_code == 200, r.text
    [back] = await open_tasks(runtime, inst["id"])
    assert (back["node_id"], back["assignee"]) == ("manager2", "bob"), back
    r = await post(runtime, f"/tasks/{back['id']}/approve", ("bob",))
    assert r.json()["active_nodes"] == ["director"], r.text


async def test_a_delegated_task_survives_a_rename(runtime):
    v1, inst, manager = await _at_manager(runtime)
    r = await post(runtime, f"/tasks/{manager['id']}/delegate", ("bob",), {"to": "dave"})
    assert r.status_code == 200, r.text
    v2 = await _v2_renamed(runtime)
    await migrate_all(runtime, v1, v2, {"manager": "manager2"})
    r = await post(runtime, f"/tasks/{manager['id']}/resolve", ("dave",), {})
    assert r.status_code == 200, r.text
    r = await post(runtime, f"/tasks/{manager['id']}/approve", ("bob",))
    assert r.status_code == 200 and r.json()["active_nodes"] == ["director"], r.text


def _voting(node: str, sequential: bool) -> bytes:
    body = (f'<startEvent id="s"/><userTask id="{node}" name="Vote" camunda:assignee="${{who}}">'
            f'<multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}" '
            'camunda:collection="${people}" camunda:elementVariable="who"/></userTask>'
            + TASK.format("after", "After") + '<endEvent id="e"/>')
    return bpmn("vote", body, f"s>{node}", f"{node}>after", "after>e")


async def test_a_parallel_multi_instance_with_one_vote_in_survives_a_rename(runtime):
    v1 = await runtime.publish(_voting("vote", False), "vote", version=1)
    r = await runtime.client.post("/api/v1/process-instances", headers=runtime.auth("alice"), json={
        "definition_key": "vote", "variables": {"people": ["ann", "ben", "cid"]}})
    inst = r.json()
    first = next(t for t in await open_tasks(runtime, inst["id"]) if t["assignee"] == "ann")
    await _complete(runtime, first)
    v2 = await runtime.publish(_voting("votes", False), "vote", version=2)
    done = await migrate_all(runtime, v1, v2, {"vote": "votes"})
    assert (done["migrated"], done["failed"]) == (1, 0), done["failures"]
    tasks = await open_tasks(runtime, inst["id"])
    assert sorted((t["node_id"], t["assignee"]) for t in tasks) == [("votes", "ben"), ("votes", "cid")]
    for task in tasks:
        last = await _complete(runtime, task)
    assert last["active_nodes"] == ["after"], last
    await assert_chain_valid(runtime, inst["id"])


async def test_a_sequential_multi_instance_half_done_survives_a_rename(runtime):
    v1 = await runtime.publish(_voting("vote", True), "vote", version=1)
    r = await runtime.client.post("/api/v1/process-instances", headers=runtime.auth("alice"), json={
        "definition_key": "vote", "variables": {"people": ["ann", "ben", "cid"]}})
    inst = r.json()
    await _complete(runtime, (await open_tasks(runtime, inst["id"]))[0])
    v2 = await runtime.publish(_voting("votes", True), "vote", version=2)
    await migrate_all(runtime, v1, v2, {"vote": "votes"})
    seen = []
    for _ in range(2):
        [task] = await open_tasks(runtime, inst["id"])
        seen.append((task["node_id"], task["assignee"]))
        last = await _complete(runtime, task)
    assert seen == [("votes", "ben"), ("votes", "cid")]
    assert last["active_nodes"] == ["after"], last


ROOTS = '<message id="m" name="cancel-order"/>'


def _with_esp(extra: str = "") -> bytes:
    body = ('<startEvent id="s"/>' + TASK.format("work", "Work") + '<endEvent id="e"/>'
            '<subProcess id="on_cancel" triggeredByEvent="true">'
            '<startEvent id="cancel_start" isInterrupting="true"><messageEventDefinition messageRef="m"/></startEvent>'
            + TASK.format("handle", "Handle the cancellation") + '<endEvent id="ce"/>'
            '<sequenceFlow id="c1" sourceRef="cancel_start" targetRef="handle"/>'
            '<sequenceFlow id="c2" sourceRef="handle" targetRef="ce"/></subProcess>' + extra)
    return bpmn("esp", body, "s>work", "work>e", roots=ROOTS)


TIMER_ESP = ('<subProcess id="on_late" triggeredByEvent="true">'
             '<startEvent id="late_start" isInterrupting="true"><timerEventDefinition><timeDuration>PT1H'
             '</timeDuration></timerEventDefinition></startEvent>'
             + TASK.format("chase", "Chase") + '<endEvent id="le"/>'
             '<sequenceFlow id="l1" sourceRef="late_start" targetRef="chase"/>'
             '<sequenceFlow id="l2" sourceRef="chase" targetRef="le"/></subProcess>')


async def test_an_event_sub_process_added_while_an_interrupting_one_runs_is_not_armed(runtime):
    """While an interrupting event sub-process runs, the engine has disarmed every other event
    sub-process of the scope (`Run.trigger_event_sub_process`). A migration to a version that
    adds one arms it anyway, and when it fires it interrupts the handling in progress."""
    v1 = await runtime.publish(_with_esp(), "esp", version=1)
    inst = await start(runtime, "esp")
    r = await runtime.client.post("/api/v1/messages", json={"name": "cancel-order"},
                                  headers=runtime.auth("erp-bot", "worker"))
    assert r.status_code == 200, r.text
    [handle] = await open_tasks(runtime, inst["id"])
    assert handle["node_id"] == "handle"
    v2 = await runtime.publish(_with_esp(TIMER_ESP), "esp", version=2)
    done = await migrate_all(runtime, v1, v2)
    assert done["migrated"] == 1
    await JobRunner(runtime.client.app.state.ctx).run_due(now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    tasks = await open_tasks(runtime, inst["id"])
    assert [t["node_id"] for t in tasks] == ["handle"], (
        f"the cancellation handling was interrupted by an event sub-process armed by the migration: {tasks}"
    )


async def test_a_non_interrupting_cycle_partly_fired_keeps_its_count(runtime):
    def cycling(extra: str = "") -> bytes:
        body = ('<startEvent id="s"/>' + TASK.format("work", "Work") + '<endEvent id="e"/>'
                '<boundaryEvent id="nag" attachedToRef="work" cancelActivity="false"><timerEventDefinition>'
                '<timeCycle>R3/PT1H</timeCycle></timerEventDefinition></boundaryEvent>'
                + TASK.format("remind", "Remind") + '<endEvent id="e2"/>' + extra)
        return bpmn("cyc", body, "s>work", "work>e", "nag>remind", "remind>e2")

    v1 = await runtime.publish(cycling(), "cyc", version=1)
    inst = await start(runtime, "cyc")
    runner = JobRunner(runtime.client.app.state.ctx)
    now = dt.datetime.now(dt.UTC)
    assert await runner.run_due(now=now + dt.timedelta(minutes=61)) == 1
    v2 = await runtime.publish(cycling('<userTask id="unused"/>'), "cyc", version=2)
    await migrate_all(runtime, v1, v2)
    timers = [j for j in await instance_jobs(runtime, inst["id"]) if j["kind"] == "timer"]
    assert len(timers) == 1, timers
    for hours in (2, 3, 4, 5):
        await runner.run_due(now=now + dt.timedelta(hours=hours, minutes=1))
    reminders = [t for t in await open_tasks(runtime, inst["id"]) if t["node_id"] == "remind"]
    assert len(reminders) == 3, reminders


async def test_a_suspended_instance_migrates_and_stays_suspended(runtime):
    v1 = await runtime.publish(_voting("vote", False), "vote", version=1)
    r = await runtime.client.post("/api/v1/process-instances", headers=runtime.auth("alice"), json={
        "definition_key": "vote", "variables": {"people": ["ann"]}})
    inst = r.json()
    r = await post(runtime, f"/admin/process-instances/{inst['id']}/suspend", ADMIN, {"reason": "hold"})
    assert r.status_code == 200, r.text
    v2 = await runtime.publish(_voting("votes", False), "vote", version=2)
    done = await migrate_all(runtime, v1, v2, {"vote": "votes"})
    assert done["migrated"] == 1, done
    view = await instance(runtime, inst["id"])
    assert view["suspended"] is True and view["definition_version"] == 2
    [task] = await open_tasks(runtime, inst["id"])
    assert (await post(runtime, f"/tasks/{task['id']}/complete", ("ann",))).status_code == 409
    r = await post(runtime, f"/admin/process-instances/{inst['id']}/resume", ADMIN, {"reason": "go"})
    assert r.status_code == 200, r.text
    assert (await _complete(runtime, task))["active_nodes"] == ["after"]
    await assert_chain_valid(runtime, inst["id"])


async def test_reapplying_and_migrating_back(runtime):
    def boundary(extra: str) -> bytes:
        return bpmn("back", '<startEvent id="s"/>' + TASK.format("work", "Work") + '<endEvent id="e"/>' + extra,
                    "s>work", "work>e", *(["late>e2"] if extra else []))
    late = ('<boundaryEvent id="late" attachedToRef="work"><timerEventDefinition><timeDuration>P1D'
            '</timeDuration></timerEventDefinition></boundaryEvent><endEvent id="e2"/>')
    v1 = await runtime.publish(boundary(""), "back", version=1)
    inst = await start(runtime, "back")
    v2 = await runtime.publish(boundary(late), "back", version=2)
    first = await migrate_all(runtime, v1, v2)
    assert first["migrated"] == 1
    assert [j["node_id"] for j in await instance_jobs(runtime, inst["id"]) if j["kind"] == "timer"] == ["late"]
    again = await migrate_all(runtime, v1, v2)
    assert again["total"] == 0 and again["state"] == "completed"
    listed = await migrate_all(runtime, v1, v2, instance_ids=[inst["id"]])
    assert (listed["migrated"], listed["failed"]) == (0, 1) and "version 2" in listed["failures"][0]["error"]
    back = await migrate_all(runtime, v2, v1)
    assert back["migrated"] == 1, back
    assert [j for j in await instance_jobs(runtime, inst["id"]) if j["kind"] == "timer"] == []
    assert (await engine_state(runtime, inst["id"])).get("jobs") in (None, [])
    entries = [h for h in await history(runtime, inst["id"]) if h["action"] == "instance_migrated"]
    assert [(e["details"]["from_version"], e["details"]["to_version"]) for e in entries] == [(1, 2), (2, 1)]
    [task] = await open_tasks(runtime, inst["id"])
    assert (await _complete(runtime, task))["state"] == "completed"
    await assert_chain_valid(runtime, inst["id"])


async def test_a_called_instance_migrated_on_its_own_still_reports_to_its_parent(runtime):
    child_xml = (MODELS / "calls-child.bpmn").read_bytes()
    await runtime.publish((MODELS / "calls-parent.bpmn").read_bytes(), "loan-application")
    c1 = await runtime.publish(child_xml, "credit-check", version=1)
    r = await runtime.client.post("/api/v1/process-instances", headers=runtime.auth("alice"), json={
        "definition_key": "loan-application",
        "variables": {"checkProcess": "credit-check", "amount": 5000, "applicationId": "L-9"}})
    parent = r.json()
    c2 = await runtime.publish(child_xml.replace(b'"assess"', b'"assess2"'), "credit-check", version=2)
    done = await migrate_all(runtime, c1, c2, {"assess": "assess2"})
    assert (done["migrated"], done["failed"]) == (1, 0), done["failures"]
    [child] = (await runtime.client.get(f"/api/v1/process-instances/{parent['id']}/called-instances",
                                        headers=runtime.auth("alice"))).json()["items"]
    [assess] = await open_tasks(runtime, child["id"])
    assert assess["node_id"] == "assess2"
    r = await runtime.client.post(f"/api/v1/tasks/{assess['id']}/complete",
                                  json={"variables": {"ok": True, "approvedAmount": 7}}, headers=runtime.auth("carol"))
    assert r.status_code == 200, r.text
    assert (await instance(runtime, parent["id"]))["active_nodes"] == ["sign"]
    await assert_chain_valid(runtime, child["id"])
