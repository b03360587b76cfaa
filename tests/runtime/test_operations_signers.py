"""Adding signers before, after and in parallel (加签) and removing them (减签)."""

from __future__ import annotations

from tests.runtime.test_operations_helpers import (
    assert_chain_valid,
    history,
    model,
    only_task,
    open_tasks,
    post,
    start,
)


async def _at_manager(runtime) -> tuple[dict, dict]:
    await runtime.publish(model("operations-approval.bpmn"), "leave-request")
    for user in ("dave", "carol"):
        await runtime.user(user, department="sales")
    inst = await start(runtime, "leave-request")
    submit = await only_task(runtime, inst["id"], "submit")
    await post(runtime, f"/tasks/{submit['id']}/approve", ("alice",))
    return inst, await only_task(runtime, inst["id"], "manager")


async def _approve(runtime, task: dict) -> dict:
    r = await post(runtime, f"/tasks/{task['id']}/approve", (task["assignee"],))
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_parallel_signer_must_sign_too_and_can_be_removed(runtime):
    inst, manager = await _at_manager(runtime)
    r = await post(
        runtime,
        f"/tasks/{manager['id']}/signers",
        ("bob",),
        {"user": "dave", "mode": "parallel", "reason": "he knows the project"},
    )
    assert r.status_code == 201, r.text
    signer = r.json()
    assert sorted(t["assignee"] for t in await open_tasks(runtime, inst["id"], "manager")) == [
        "bob",
        "dave",
    ]
    entry = next(h for h in await history(runtime, inst["id"]) if h["action"] == "signer_added")
    assert (entry["actor"], entry["comment"], entry["details"]["user"]) == (
        "bob",
        "he knows the project",
        "dave",
    )

    assert (await _approve(runtime, manager))["active_nodes"] == ["manager"], (
        "dave has not signed yet"
    )
    dave_task = await only_task(runtime, inst["id"], "manager")
    assert dave_task["id"] == signer["signer_id"]
    assert (await _approve(runtime, dave_task))["active_nodes"] == ["director"]
    await assert_chain_valid(runtime, inst["id"])


async def test_removing_a_parallel_signer(runtime):
    inst, manager = await _at_manager(runtime)
    signer = (
        await post(
            runtime,
            f"/tasks/{manager['id']}/signers",
            ("bob",),
            {"user": "dave", "mode": "parallel"},
        )
    ).json()
    path = f"/api/v1/tasks/{manager['id']}/signers/{signer['signer_id']}"
    assert (await runtime.client.delete(path, headers=runtime.auth("carol"))).status_code == 403
    unknown = f"/api/v1/tasks/{manager['id']}/signers/00000000-0000-0000-0000-000000000000"
    assert (await runtime.client.delete(unknown, headers=runtime.auth("bob"))).status_code == 404
    removed = await runtime.client.delete(
        path, params={"reason": "not needed"}, headers=runtime.auth("bob")
    )
    assert removed.status_code == 204, removed.text
    assert [t["assignee"] for t in await open_tasks(runtime, inst["id"], "manager")] == ["bob"]
    assert (await _approve(runtime, manager))["active_nodes"] == ["director"]
    removal = next(h for h in await history(runtime, inst["id"]) if h["action"] == "signer_removed")
    assert (removal["actor"], removal["comment"]) == ("bob", "not needed")
    await assert_chain_valid(runtime, inst["id"])


async def test_a_signer_before_signs_first_then_the_task_comes_back(runtime):
    inst, manager = await _at_manager(runtime)
    r = await post(
        runtime, f"/tasks/{manager['id']}/signers", ("bob",), {"user": "dave", "mode": "before"}
    )
    assert r.status_code == 201, r.text
    dave_task = await only_task(runtime, inst["id"], "manager")
    assert dave_task["assignee"] == "dave" and dave_task["id"] == r.json()["signer_id"]
    assert (await _approve(runtime, dave_task))["active_nodes"] == ["manager"]
    back = await only_task(runtime, inst["id"], "manager")
    assert back["assignee"] == "bob" and back["id"] != manager["id"]
    assert (await _approve(runtime, back))["active_nodes"] == ["director"]
    await assert_chain_valid(runtime, inst["id"])


async def test_a_signer_after_signs_once_the_task_is_done_unless_removed(runtime):
    inst, manager = await _at_manager(runtime)
    r = await post(
        runtime, f"/tasks/{manager['id']}/signers", ("bob",), {"user": "dave", "mode": "after"}
    )
    assert r.status_code == 201, r.text
    assert (await _approve(runtime, manager))["active_nodes"] == ["manager"]
    dave_task = await only_task(runtime, inst["id"], "manager")
    assert dave_task["assignee"] == "dave"
    assert (await _approve(runtime, dave_task))["active_nodes"] == ["director"]

    # a second request: the after-signer is removed before the task is completed
    other = await start(runtime, "leave-request")
    submit = await only_task(runtime, other["id"], "submit")
    await post(runtime, f"/tasks/{submit['id']}/approve", ("alice",))
    manager = await only_task(runtime, other["id"], "manager")
    signer = (
        await post(
            runtime, f"/tasks/{manager['id']}/signers", ("bob",), {"user": "carol", "mode": "after"}
        )
    ).json()
    removed = await runtime.client.delete(
        f"/api/v1/tasks/{manager['id']}/signers/{signer['signer_id']}",
        headers=runtime.auth("admin", "admin"),
    )
    assert removed.status_code == 204
    assert (await _approve(runtime, manager))["active_nodes"] == ["director"]
    await assert_chain_valid(runtime, other["id"])


async def test_signer_refusals(runtime):
    inst, manager = await _at_manager(runtime)
    path = f"/tasks/{manager['id']}/signers"
    unknown = await post(runtime, path, ("bob",), {"user": "nobody", "mode": "after"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "user"
    bad_mode = await post(runtime, path, ("bob",), {"user": "dave", "mode": "sideways"})
    assert bad_mode.status_code == 422 and bad_mode.json()["errors"][0]["field"] == "mode"
    self_signer = await post(runtime, path, ("bob",), {"user": "bob", "mode": "parallel"})
    assert self_signer.status_code == 422
    assert (
        await post(runtime, path, ("carol",), {"user": "dave", "mode": "after"})
    ).status_code == 403
    signer = (await post(runtime, path, ("bob",), {"user": "dave", "mode": "parallel"})).json()
    tasks = await open_tasks(runtime, inst["id"], "manager")
    await _approve(runtime, next(t for t in tasks if t["assignee"] == "dave"))
    signed = await runtime.client.delete(
        f"/api/v1/tasks/{manager['id']}/signers/{signer['signer_id']}", headers=runtime.auth("bob")
    )
    assert signed.status_code == 409, "a signer who signed cannot be removed"


async def _add(runtime, task: dict, by: tuple[str, ...], user: str, mode: str):
    return await post(runtime, f"/tasks/{task['id']}/signers", by, {"user": user, "mode": mode})


async def test_a_signer_after_still_signs_when_the_assignee_signs_before_a_parallel_cosigner(runtime):
    inst, manager = await _at_manager(runtime)
    assert (await _add(runtime, manager, ("bob",), "dave", "parallel")).status_code == 201
    assert (await _add(runtime, manager, ("bob",), "carol", "after")).status_code == 201
    await _approve(runtime, manager)
    dave = await only_task(runtime, inst["id"], "manager")
    assert (await _approve(runtime, dave))["active_nodes"] == ["manager"], "carol still signs"
    carol = await only_task(runtime, inst["id"], "manager")
    assert carol["assignee"] == "carol"
    assert (await _approve(runtime, carol))["active_nodes"] == ["director"]


async def test_a_task_a_signer_before_hands_back_goes_to_whoever_held_it(runtime):
    inst, manager = await _at_manager(runtime)
    assert (await post(runtime, f"/tasks/{manager['id']}/transfer", ("bob",), {"to": "carol"})).status_code == 200
    assert (await _add(runtime, manager, ("carol",), "dave", "before")).status_code == 201
    await _approve(runtime, await only_task(runtime, inst["id"], "manager"))
    assert (await only_task(runtime, inst["id"], "manager"))["assignee"] == "carol", "not bob, the model's assignee"

    director = await only_task(runtime, inst["id"], "manager")
    await _approve(runtime, director)
    claimable = await only_task(runtime, inst["id"], "director")
    assert (await post(runtime, f"/tasks/{claimable['id']}/claim", ("dave", "director"))).status_code == 200
    signer = (await _add(runtime, claimable, ("dave", "director"), "carol", "before")).json()
    removed = await runtime.client.delete(
        f"/api/v1/tasks/{claimable['id']}/signers/{signer['signer_id']}", headers=runtime.auth("dave", "director")
    )
    assert removed.status_code == 204, removed.text
    assert (await only_task(runtime, inst["id"], "director"))["assignee"] == "dave", "back to the claimer"


async def test_one_person_signs_a_node_once(runtime):
    inst, manager = await _at_manager(runtime)
    assert (await _add(runtime, manager, ("bob",), "dave", "parallel")).status_code == 201
    for mode in ("parallel", "after", "before"):
        twice = await _add(runtime, manager, ("bob",), "dave", mode)
        assert twice.status_code == 409 and twice.json()["errors"][0]["field"] == "user", (mode, twice.text)
    assert (await _add(runtime, manager, ("bob",), "carol", "after")).status_code == 201
    again = await _add(runtime, manager, ("bob",), "carol", "after")
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "user", again.text
    assert sorted(t["assignee"] for t in await open_tasks(runtime, inst["id"], "manager")) == ["bob", "dave"]
    await assert_chain_valid(runtime, inst["id"])
