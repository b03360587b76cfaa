"""Administrators' interventions: suspend and resume, terminate, edit variables, skip,
move and cancel tokens (also on multi-instance nodes), reassign;
each with a required reason, recorded in the history."""

from __future__ import annotations

import datetime as dt

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


def _admin(instance_id: str, action: str) -> str:
    return f"/admin/process-instances/{instance_id}/{action}"


async def _leave(runtime) -> dict:
    await runtime.publish(model("operations-approval.bpmn"), "leave-request")
    inst = await start(runtime, "leave-request", variables={"days": 3})
    submit = await only_task(runtime, inst["id"], "submit")
    await post(runtime, f"/tasks/{submit['id']}/approve", ("alice",))
    return inst


async def test_suspend_blocks_work_until_resumed(runtime):
    inst = await _leave(runtime)
    manager = await only_task(runtime, inst["id"], "manager")
    assert (
        await post(runtime, _admin(inst["id"], "suspend"), ("bob",), {"reason": "audit"})
    ).status_code == 403
    no_reason = await post(runtime, _admin(inst["id"], "suspend"), ADMIN, {"reason": " "})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    r = await post(runtime, _admin(inst["id"], "suspend"), ADMIN, {"reason": "fraud check"})
    assert r.status_code == 200 and r.json()["suspended"] is True, r.text
    assert (
        await post(runtime, _admin(inst["id"], "suspend"), ADMIN, {"reason": "again"})
    ).status_code == 409

    blocked = await post(runtime, f"/tasks/{manager['id']}/approve", ("bob",))
    assert blocked.status_code == 409 and "suspended" in blocked.json()["detail"]
    assert (
        await post(runtime, f"/tasks/{manager['id']}/complete", ("bob",), {"outcome": "approve"})
    ).status_code == 409
    assert (await post(runtime, f"/tasks/{manager['id']}/urge", ("alice",))).status_code == 409

    r = await post(runtime, _admin(inst["id"], "resume"), ADMIN, {"reason": "all clear"})
    assert r.status_code == 200 and r.json()["suspended"] is False
    assert (
        await post(runtime, _admin(inst["id"], "resume"), ADMIN, {"reason": "again"})
    ).status_code == 409
    assert (await post(runtime, f"/tasks/{manager['id']}/approve", ("bob",))).status_code == 200
    suspended = [
        e["data"] for e in await events(runtime) if e["type"].endswith(("suspended", "resumed"))
    ]
    assert [(d["actor"], d["reason"]) for d in suspended] == [
        ("admin", "fraud check"),
        ("admin", "all clear"),
    ]
    entries = [
        (h["action"], h["comment"])
        for h in await history(runtime, inst["id"])
        if h["action"] in ("instance_suspended", "instance_resumed")
    ]
    assert entries == [("instance_suspended", "fraud check"), ("instance_resumed", "all clear")]
    await assert_chain_valid(runtime, inst["id"])


async def test_terminate_ends_the_instance_with_the_reason(runtime):
    inst = await _leave(runtime)
    r = await post(runtime, _admin(inst["id"], "terminate"), ADMIN, {"reason": "duplicate request"})
    assert r.status_code == 200 and r.json()["state"] == "terminated", r.text
    assert await open_tasks(runtime, inst["id"]) == []
    [ended] = await events(runtime, "instance.terminated")
    assert (ended["data"]["actor"], ended["data"]["reason"]) == ("admin", "duplicate request")
    assert (
        await post(runtime, _admin(inst["id"], "terminate"), ADMIN, {"reason": "again"})
    ).status_code == 409
    await assert_chain_valid(runtime, inst["id"])


async def test_edited_variables_keep_their_old_values_in_the_history(runtime):
    inst = await _leave(runtime)
    path = f"/api/v1{_admin(inst['id'], 'variables')}"
    empty = await runtime.client.patch(
        path, json={"variables": {}, "reason": "x"}, headers=runtime.auth(*ADMIN)
    )
    assert empty.status_code == 422
    r = await runtime.client.patch(
        path,
        json={"variables": {"days": 5, "note": "corrected"}, "reason": "typo"},
        headers=runtime.auth(*ADMIN),
    )
    assert r.status_code == 200, r.text
    assert (await instance(runtime, inst["id"]))["variables"]["days"] == 5
    [entry] = [h for h in await history(runtime, inst["id"]) if h["action"] == "variables_updated"]
    assert entry["actor"] == "admin" and entry["comment"] == "typo"
    assert entry["details"]["changes"] == [
        {"name": "days", "before": 3, "after": 5},
        {"name": "note", "before": None, "after": "corrected"},
    ]
    await assert_chain_valid(runtime, inst["id"])


async def test_skip_a_task_and_move_a_token_back(runtime):
    inst = await _leave(runtime)
    manager = await only_task(runtime, inst["id"], "manager")
    both = await post(
        runtime,
        _admin(inst["id"], "skip"),
        ADMIN,
        {"task_id": manager["id"], "token_id": "x", "reason": "r"},
    )
    assert both.status_code == 422
    r = await post(
        runtime,
        _admin(inst["id"], "skip"),
        ADMIN,
        {
            "task_id": manager["id"],
            "reason": "manager left the company",
            "variables": {"skipped": True},
        },
    )
    assert r.status_code == 200 and r.json()["active_nodes"] == ["director"], r.text
    [cancelled] = await events(runtime, "task.cancelled")
    assert cancelled["data"]["reason"] == "skipped"

    # reversible: move the token back to the skipped node
    r = await post(
        runtime,
        _admin(inst["id"], "move"),
        ADMIN,
        {"from_node": "director", "to_node": "manager", "reason": "new manager should see it"},
    )
    assert r.status_code == 200 and r.json()["active_nodes"] == ["manager"], r.text
    assert (await only_task(runtime, inst["id"], "manager"))["assignee"] == "bob"
    unknown = await post(
        runtime,
        _admin(inst["id"], "move"),
        ADMIN,
        {"from_node": "manager", "to_node": "nowhere", "reason": "x"},
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "to_node"
    actions = [
        (h["action"], h["actor"], h["node_id"], h["comment"])
        for h in await history(runtime, inst["id"])
        if h["action"] in ("node_skipped", "token_moved")
    ]
    assert actions == [
        ("node_skipped", "admin", "manager", "manager left the company"),
        ("token_moved", "admin", "manager", "new manager should see it"),
    ]
    await assert_chain_valid(runtime, inst["id"])


async def test_interventions_on_a_multi_instance_countersign(runtime):
    await runtime.publish(model("operations-countersign.bpmn"), "countersign-demo")
    inst = await start(runtime, "countersign-demo", variables={"signers": ["bob", "carol", "dave"]})
    prepare = await only_task(runtime, inst["id"], "prepare")
    await post(runtime, f"/tasks/{prepare['id']}/approve", ("alice",))
    signs = await open_tasks(runtime, inst["id"], "sign")
    await post(runtime, f"/tasks/{signs[0]['id']}/approve", (signs[0]["assignee"],))

    view = await runtime.client.get(
        f"/api/v1/process-instances/{inst['id']}/tokens", headers=runtime.auth(*ADMIN)
    )
    assert view.status_code == 200, view.text
    body = view.json()
    [counters] = [s["variables"] for s in body["scopes"] if s["kind"] == "mi"]
    assert (
        counters["nrOfInstances"],
        counters["nrOfCompletedInstances"],
        counters["nrOfActiveInstances"],
    ) == (3, 1, 2)
    task_tokens = [t for t in body["tokens"] if t["task"]]
    assert sorted(t["task"]["assignee"] for t in task_tokens) == sorted(
        s["assignee"] for s in signs[1:]
    )
    [body_token] = [t for t in body["tokens"] if t["node_id"] == "sign" and not t["task"]]
    forbidden = await runtime.client.get(
        f"/api/v1/process-instances/{inst['id']}/tokens", headers=runtime.auth("bob")
    )
    assert forbidden.status_code == 403

    # one signer's token moved to its own node would start the node again: refused
    again = await post(
        runtime,
        _admin(inst["id"], "move"),
        ADMIN,
        {"token_id": task_tokens[0]["id"], "to_node": "sign", "reason": "redo"},
    )
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "to_node", again.text
    assert len(await open_tasks(runtime, inst["id"], "sign")) == 2, "the votes cast are kept"

    # cancel one signer's token: the countersign goes on with the others
    r = await post(
        runtime,
        _admin(inst["id"], "cancel-token"),
        ADMIN,
        {"token_id": task_tokens[0]["id"], "reason": "signer left"},
    )
    assert r.status_code == 200 and r.json()["active_nodes"] == ["sign"], r.text
    assert len(await open_tasks(runtime, inst["id"], "sign")) == 1
    # skip the whole multi-instance node through its body token
    r = await post(
        runtime,
        _admin(inst["id"], "skip"),
        ADMIN,
        {"token_id": body_token["id"], "reason": "urgent"},
    )
    assert r.status_code == 200 and r.json()["active_nodes"] == ["archive"], r.text
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["archive"]
    await assert_chain_valid(runtime, inst["id"])


async def test_reassign_also_ends_a_delegation_and_works_while_suspended(runtime):
    inst = await _leave(runtime)
    for user in ("carol", "dave"):
        await runtime.user(user)
    manager = await only_task(runtime, inst["id"], "manager")
    await post(runtime, f"/tasks/{manager['id']}/delegate", ("bob",), {"to": "dave"})
    await post(runtime, _admin(inst["id"], "suspend"), ADMIN, {"reason": "reorganisation"})
    assert (
        await post(runtime, f"/admin/tasks/{manager['id']}/reassign", ADMIN, {"to": "carol"})
    ).status_code == 422
    r = await post(
        runtime,
        f"/admin/tasks/{manager['id']}/reassign",
        ADMIN,
        {"to": "carol", "reason": "new manager"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["assignee"], r.json()["owner"], r.json()["delegation_state"]) == (
        "carol",
        None,
        None,
    )
    assert (
        await post(
            runtime,
            f"/admin/tasks/{manager['id']}/reassign",
            ("bob",),
            {"to": "carol", "reason": "x"},
        )
    ).status_code == 403
    await post(runtime, _admin(inst["id"], "resume"), ADMIN, {"reason": "done"})
    assert (await post(runtime, f"/tasks/{manager['id']}/approve", ("carol",))).status_code == 200
    assert [e["data"]["kind"] for e in await events(runtime, "task.assigned")] == [
        "delegate",
        "reassign",
    ]
    await assert_chain_valid(runtime, inst["id"])


async def test_timers_of_a_suspended_instance_wait_for_the_resume(runtime):
    await runtime.publish(model("boundary-timer.bpmn"), "timeout-demo")
    inst = await start(runtime, "timeout-demo")
    await post(runtime, _admin(inst["id"], "suspend"), ADMIN, {"reason": "investigation"})
    runner = JobRunner(runtime.client.app.state.ctx)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert await runner.run_one(now=later) is True
    assert (await instance(runtime, inst["id"]))["active_nodes"] == ["approve"], "the timer waited"
    await post(runtime, _admin(inst["id"], "resume"), ADMIN, {"reason": "cleared"})
    await runner.run_one(now=later + dt.timedelta(hours=1))
    assert (await instance(runtime, inst["id"]))["active_nodes"] == ["escalated"]
    await assert_chain_valid(runtime, inst["id"])


async def test_a_suspended_instance_that_is_terminated_is_no_longer_suspended(runtime):
    inst = await _leave(runtime)
    assert (await post(runtime, _admin(inst["id"], "suspend"), ADMIN, {"reason": "fraud check"})).status_code == 200
    r = await post(runtime, _admin(inst["id"], "terminate"), ADMIN, {"reason": "fraud confirmed"})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["suspended"]) == ("terminated", False)
    assert (await instance(runtime, inst["id"]))["suspended"] is False
    await assert_chain_valid(runtime, inst["id"])


async def test_variables_an_administrator_sets_have_names_expressions_can_use(runtime):
    inst = await _leave(runtime)
    path = f"/api/v1{_admin(inst['id'], 'variables')}"
    before = (await instance(runtime, inst["id"]))["variables"]
    for name in ["", "   ", "a b", "1abc", "x-y", "a.b", "${x}", "n" * 129, "initiator"]:
        r = await runtime.client.patch(
            path, json={"variables": {name: 1}, "reason": "bad name"}, headers=runtime.auth(*ADMIN)
        )
        assert r.status_code == 422, (name, r.text)
        assert r.json()["errors"][0]["field"] == f"variables.{name[:128]}", name
    manager = await only_task(runtime, inst["id"], "manager")
    skipped = await post(
        runtime, _admin(inst["id"], "skip"), ADMIN, {"task_id": manager["id"], "reason": "r", "variables": {"a b": 1}}
    )
    assert skipped.status_code == 422 and skipped.json()["errors"][0]["field"] == "variables.a b"
    assert (await instance(runtime, inst["id"]))["variables"] == before
    ok = await runtime.client.patch(
        path, json={"variables": {"金额": 5, "_note": "x"}, "reason": "names in any script"}, headers=runtime.auth(*ADMIN)
    )
    assert ok.status_code == 200, ok.text


async def test_a_move_the_engine_refuses_names_to_node(runtime):
    await runtime.publish(model("admin-subprocess.bpmn"), "sub-demo")
    inst = await start(runtime, "sub-demo")
    r = await post(runtime, _admin(inst["id"], "move"), ADMIN, {"from_node": "before", "to_node": "a", "reason": "r"})
    assert r.status_code in (409, 422), r.text
    assert r.json()["errors"][0]["field"] == "to_node", r.text


async def _with_cosigner(runtime) -> tuple[dict, dict, str]:
    inst = await _leave(runtime)
    await runtime.user("dave")
    manager = await only_task(runtime, inst["id"], "manager")
    added = await post(runtime, f"/tasks/{manager['id']}/signers", ("bob",), {"user": "dave", "mode": "parallel"})
    assert added.status_code == 201, added.text
    return inst, manager, added.json()["signer_id"]


async def test_skipping_a_task_skips_its_parallel_cosigners_with_it(runtime):
    inst, manager, cosigner = await _with_cosigner(runtime)
    r = await post(runtime, _admin(inst["id"], "skip"), ADMIN, {"task_id": manager["id"], "reason": "bob is away"})
    assert r.status_code == 200, r.text
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["director"]
    late = await post(runtime, f"/tasks/{cosigner}/approve", ("dave",))
    assert late.status_code in (404, 409), "the co-signer's task closed with the node"
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["director"]
    await assert_chain_valid(runtime, inst["id"])


async def test_moving_a_task_takes_its_parallel_cosigners_along(runtime):
    inst, manager, cosigner = await _with_cosigner(runtime)
    view = await runtime.client.get(f"/api/v1/process-instances/{inst['id']}/tokens", headers=runtime.auth(*ADMIN))
    [token] = [t for t in view.json()["tokens"] if t["task"] and t["task"]["id"] == manager["id"]]
    r = await post(runtime, _admin(inst["id"], "move"), ADMIN, {"token_id": token["id"], "to_node": "director", "reason": "urgent"})
    assert r.status_code == 200, r.text
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["director"]
    assert (await post(runtime, f"/tasks/{cosigner}/approve", ("dave",))).status_code in (404, 409)
    await assert_chain_valid(runtime, inst["id"])


async def test_the_history_keeps_what_a_completion_or_a_skip_overwrote(runtime):
    inst = await _leave(runtime)  # days = 3
    manager = await only_task(runtime, inst["id"], "manager")
    done = await post(runtime, f"/tasks/{manager['id']}/approve", ("bob",), {"variables": {"days": 10, "note": "x"}})
    assert done.status_code == 200, done.text
    [completed] = [h for h in await history(runtime, inst["id"]) if h["action"] == "task_completed"
                   and h["node_id"] == "manager"]
    assert completed["details"]["variables_before"] == {"days": 3, "note": None}
    director = await only_task(runtime, inst["id"], "director")
    skipped = await post(runtime, _admin(inst["id"], "skip"), ADMIN,
                         {"task_id": director["id"], "reason": "director away", "variables": {"days": 4}})
    assert skipped.status_code == 200, skipped.text
    [entry] = [h for h in await history(runtime, inst["id"]) if h["action"] == "node_skipped"]
    assert (entry["details"]["variables"], entry["details"]["variables_before"]) == ({"days": 4}, {"days": 10})
    await assert_chain_valid(runtime, inst["id"])
