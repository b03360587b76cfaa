"""Returning to an earlier node (退回): from inside parallel branches and from a
multi-instance countersign, cancelling the tokens that must go, and never creating a
task twice afterwards."""

from __future__ import annotations

from tests.runtime.test_operations_helpers import (
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


async def _complete(runtime, instance_id: str, node: str, user: str) -> None:
    task = await only_task(runtime, instance_id, node)
    r = await post(runtime, f"/tasks/{task['id']}/approve", (user,))
    assert r.status_code == 200, r.text


async def _contract(runtime) -> dict:
    await runtime.publish(model("operations-parallel.bpmn"), "contract-review")
    inst = await start(runtime, "contract-review")
    await _complete(runtime, inst["id"], "draft", "alice")
    return inst


async def test_return_from_a_parallel_branch_to_before_the_split_cancels_the_sibling_branch(
    runtime,
):
    inst = await _contract(runtime)
    await _complete(runtime, inst["id"], "finance1", "fiona")
    finance2 = await only_task(runtime, inst["id"], "finance2")
    targets = await runtime.client.get(
        f"/api/v1/tasks/{finance2['id']}/return-targets", headers=runtime.auth("frank")
    )
    assert targets.status_code == 200
    assert [t["node_id"] for t in targets.json()["items"]] == ["draft", "finance1"]
    assert targets.json()["items"][0]["name"] == "Draft"

    r = await post(
        runtime,
        f"/tasks/{finance2['id']}/return",
        ("frank",),
        {"target_node_id": "draft", "reason": "wrong supplier"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["active_nodes"] == ["draft"] and r.json()["state"] == "cancelled"
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["draft"]
    cancelled = {
        e["data"]["node_id"]: e["data"]["reason"] for e in await events(runtime, "task.cancelled")
    }
    assert cancelled == {"finance2": "returned", "legal": "returned"}
    [returned] = await events(runtime, "task.returned")
    assert returned["data"]["task_id"] == finance2["id"]
    assert (returned["data"]["actor"], returned["data"]["reason"]) == ("frank", "wrong supplier")
    assert (returned["data"]["target_node_id"], returned["data"]["target_node_name"]) == (
        "draft",
        "Draft",
    )
    entry = next(h for h in await history(runtime, inst["id"]) if h["action"] == "task_returned")
    assert (entry["actor"], entry["node_id"], entry["comment"]) == (
        "frank",
        "finance2",
        "wrong supplier",
    )

    # the redo opens each branch once: no duplicate task is left over from before
    await _complete(runtime, inst["id"], "draft", "alice")
    assert sorted(t["node_id"] for t in await open_tasks(runtime, inst["id"])) == [
        "finance1",
        "legal",
    ]
    for node, user in (("legal", "larry"), ("finance1", "fiona"), ("finance2", "frank")):
        await _complete(runtime, inst["id"], node, user)
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["final"]
    await assert_chain_valid(runtime, inst["id"])


async def test_return_inside_a_branch_keeps_the_other_branch_waiting_at_the_join(runtime):
    inst = await _contract(runtime)
    await _complete(runtime, inst["id"], "legal", "larry")
    await _complete(runtime, inst["id"], "finance1", "fiona")
    finance2 = await only_task(runtime, inst["id"], "finance2")
    r = await post(
        runtime,
        f"/tasks/{finance2['id']}/return",
        ("frank",),
        {"target_node_id": "finance1", "reason": "numbers do not add up"},
    )
    assert sorted(r.json()["active_nodes"]) == ["finance1", "join"], r.text
    await _complete(runtime, inst["id"], "finance1", "fiona")
    await _complete(runtime, inst["id"], "finance2", "frank")
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["final"]
    await assert_chain_valid(runtime, inst["id"])


async def test_return_from_a_countersign_cancels_the_other_signers(runtime):
    await runtime.publish(model("operations-countersign.bpmn"), "countersign-demo")
    inst = await start(runtime, "countersign-demo", variables={"signers": ["bob", "carol", "dave"]})
    await _complete(runtime, inst["id"], "prepare", "alice")
    signs = await open_tasks(runtime, inst["id"], "sign")
    assert sorted(t["assignee"] for t in signs) == ["bob", "carol", "dave"]
    bob = next(t for t in signs if t["assignee"] == "bob")
    carol = next(t for t in signs if t["assignee"] == "carol")
    assert (await post(runtime, f"/tasks/{bob['id']}/approve", ("bob",))).status_code == 200
    r = await post(
        runtime,
        f"/tasks/{carol['id']}/return",
        ("carol",),
        {"target_node_id": "prepare", "reason": "clause 4 is missing"},
    )
    assert r.status_code == 200 and r.json()["active_nodes"] == ["prepare"], r.text
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["prepare"]
    [returned] = await events(runtime, "task.returned")
    assert returned["data"]["task_id"] == carol["id"]

    await _complete(runtime, inst["id"], "prepare", "alice")
    again = await open_tasks(runtime, inst["id"], "sign")
    assert sorted(t["assignee"] for t in again) == ["bob", "carol", "dave"], (
        "three signers, not five"
    )
    for task in again:
        assert (
            await post(runtime, f"/tasks/{task['id']}/approve", (task["assignee"],))
        ).status_code == 200
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["archive"]
    await assert_chain_valid(runtime, inst["id"])


async def test_return_refusals(runtime):
    inst = await _contract(runtime)
    legal = await only_task(runtime, inst["id"], "legal")
    not_earlier = await post(
        runtime,
        f"/tasks/{legal['id']}/return",
        ("larry",),
        {"target_node_id": "finance1", "reason": "x"},
    )
    assert (
        not_earlier.status_code == 422
        and not_earlier.json()["errors"][0]["field"] == "target_node_id"
    )
    no_reason = await post(
        runtime, f"/tasks/{legal['id']}/return", ("larry",), {"target_node_id": "draft"}
    )
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    stranger = await post(
        runtime,
        f"/tasks/{legal['id']}/return",
        ("fiona",),
        {"target_node_id": "draft", "reason": "x"},
    )
    assert stranger.status_code == 403
    targets = await runtime.client.get(
        f"/api/v1/tasks/{legal['id']}/return-targets", headers=runtime.auth("fiona")
    )
    assert targets.status_code == 403
    ok = await post(
        runtime,
        f"/tasks/{legal['id']}/return",
        ("larry",),
        {"target_node_id": "draft", "reason": "x"},
    )
    assert ok.status_code == 200
    again = await post(
        runtime,
        f"/tasks/{legal['id']}/return",
        ("larry",),
        {"target_node_id": "draft", "reason": "x"},
    )
    assert again.status_code == 409


async def _past_the_join(runtime) -> dict:
    """`pfr`: draft, then legal, finance and the initiator's own check in parallel,
    joined before `final` (whose reject action is `previous`)."""
    await runtime.publish(model("operations-parallel-final.bpmn"), "pfr")
    inst = await start(runtime, "pfr")
    for node, user in (("draft", "alice"), ("own", "alice")):
        task = await only_task(runtime, inst["id"], node)
        assert (await post(runtime, f"/tasks/{task['id']}/complete", (user,))).status_code == 200
    for node, user in (("legal", "larry"), ("finance", "fiona")):
        await _complete(runtime, inst["id"], node, user)
    return inst


async def test_a_return_from_past_the_join_into_one_branch_redoes_only_that_branch(runtime):
    inst = await _past_the_join(runtime)
    final = await only_task(runtime, inst["id"], "final")
    targets = await runtime.client.get(f"/api/v1/tasks/{final['id']}/return-targets", headers=runtime.auth("bob"))
    assert "finance" in [t["node_id"] for t in targets.json()["items"]], targets.text
    r = await post(runtime, f"/tasks/{final['id']}/return", ("bob",), {"target_node_id": "finance", "reason": "redo"})
    assert r.status_code == 200, r.text
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["finance"], "legal and own stay done"
    await _complete(runtime, inst["id"], "finance", "fiona")
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["final"]
    await assert_chain_valid(runtime, inst["id"])


async def test_a_rejection_back_to_a_branch_task_past_the_join_comes_back_once_it_is_redone(runtime):
    inst = await _past_the_join(runtime)
    final = await only_task(runtime, inst["id"], "final")
    r = await post(runtime, f"/tasks/{final['id']}/reject", ("bob",), {"comment": "redo finance"})
    assert r.status_code == 200, r.text
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["finance"]
    await _complete(runtime, inst["id"], "finance", "fiona")
    assert [t["node_id"] for t in await open_tasks(runtime, inst["id"])] == ["final"]
    await _complete(runtime, inst["id"], "final", "bob")
    assert (await instance(runtime, inst["id"]))["state"] == "completed"


async def test_after_a_return_only_what_this_round_passed_can_be_returned_to(runtime):
    await runtime.publish(model("operations-xor-route.bpmn"), "xor-route")
    inst = await start(runtime, "xor-route", variables={"days": 5})
    await _complete(runtime, inst["id"], "submit", "alice")
    await _complete(runtime, inst["id"], "director", "dave")  # a long leave: the director decides
    hr = await only_task(runtime, inst["id"], "hr")
    back = await post(runtime, f"/tasks/{hr['id']}/return", ("erin",), {"target_node_id": "submit", "reason": "fewer days"})
    assert back.status_code == 200, back.text
    submit = await only_task(runtime, inst["id"], "submit")
    again = await post(runtime, f"/tasks/{submit['id']}/approve", ("alice",), {"variables": {"days": 1}})
    assert again.json()["active_nodes"] == ["manager"], again.text
    await _complete(runtime, inst["id"], "manager", "bob")
    hr = await only_task(runtime, inst["id"], "hr")
    targets = await runtime.client.get(f"/api/v1/tasks/{hr['id']}/return-targets", headers=runtime.auth("erin"))
    assert [t["node_id"] for t in targets.json()["items"]] == ["submit", "manager"], targets.text
    await assert_chain_valid(runtime, inst["id"])
