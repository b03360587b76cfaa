"""Approve and reject (with each reject action), resubmission after a return, and withdrawal."""

from __future__ import annotations

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

ALICE, BOB, DAVE, ERIN = ("alice",), ("bob",), ("dave", "director"), ("erin",)


async def _leave(runtime) -> dict:
    await runtime.publish(model("operations-approval.bpmn"), "leave-request")
    return await start(runtime, "leave-request", variables={"days": 3})


async def _submit(runtime, inst) -> None:
    task = await only_task(runtime, inst["id"], "submit")
    r = await post(runtime, f"/tasks/{task['id']}/approve", ALICE, {"comment": "please"})
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] is None, "a plain task is completed, without an outcome"


async def test_approvals_run_through_and_a_rejection_can_end_the_instance(runtime):
    inst = await _leave(runtime)
    await _submit(runtime, inst)
    for node, user in (("manager", BOB), ("director", DAVE)):
        task = await only_task(runtime, inst["id"], node)
        r = await post(runtime, f"/tasks/{task['id']}/approve", user, {"comment": "fine"})
        assert r.status_code == 200 and r.json()["outcome"] == "approve", r.text
    hr = await only_task(runtime, inst["id"], "hr")
    r = await post(runtime, f"/tasks/{hr['id']}/reject", ERIN, {"comment": "no cover that week"})
    assert r.status_code == 200, r.text
    assert r.json()["instance_state"] == "completed" and r.json()["outcome"] == "reject"
    assert (await instance(runtime, inst["id"]))["state"] == "completed"
    [ended] = await events(runtime, "instance.completed")
    assert ended["data"]["result"] == "rejected"
    decided = [
        (h["node_id"], h["details"]["outcome"])
        for h in await history(runtime, inst["id"])
        if h["action"] == "approval_decided"
    ]
    assert decided == [("manager", "approved"), ("director", "approved"), ("hr", "rejected")]
    assert [e["data"]["outcome"] for e in await events(runtime, "task.completed")] == [
        None,
        "approve",
        "approve",
        "reject",
    ]
    await assert_chain_valid(runtime, inst["id"])


async def test_a_rejection_returns_to_the_initiator_who_resubmits_with_the_history_carried_forward(
    runtime,
):
    inst = await _leave(runtime)
    await _submit(runtime, inst)
    manager = await only_task(runtime, inst["id"], "manager")
    missing = await post(runtime, f"/tasks/{manager['id']}/reject", BOB, {"comment": "  "})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "comment"
    r = await post(runtime, f"/tasks/{manager['id']}/reject", BOB, {"comment": "too many days"})
    assert r.status_code == 200 and r.json()["active_nodes"] == ["submit"], r.text

    again = await only_task(runtime, inst["id"], "submit")
    assert again["assignee"] == "alice"
    r = await post(
        runtime,
        f"/tasks/{again['id']}/approve",
        ALICE,
        {"comment": "two days then", "variables": {"days": 2}},
    )
    assert r.status_code == 200 and r.json()["active_nodes"] == ["manager"]
    second = await only_task(runtime, inst["id"], "manager")
    assert second["id"] != manager["id"]

    story = [
        (h["action"], h["actor"], h["node_id"])
        for h in await history(runtime, inst["id"])
        if h["action"] in ("instance_started", "task_completed", "token_moved", "approval_decided")
    ]
    assert story == [
        ("instance_started", "alice", None),
        ("task_completed", "alice", "submit"),
        ("task_completed", "bob", "manager"),
        ("approval_decided", "bob", "manager"),
        ("token_moved", "bob", "submit"),
        ("task_completed", "alice", "submit"),
    ]
    comments = [
        h["comment"] for h in await history(runtime, inst["id"]) if h["action"] == "task_completed"
    ]
    assert comments == ["please", "too many days", "two days then"]
    assert (await instance(runtime, inst["id"]))["variables"]["days"] == 2
    await assert_chain_valid(runtime, inst["id"])


async def test_a_rejection_can_return_to_the_previous_approver(runtime):
    inst = await _leave(runtime)
    await _submit(runtime, inst)
    manager = await only_task(runtime, inst["id"], "manager")
    await post(runtime, f"/tasks/{manager['id']}/approve", BOB)
    director = await only_task(runtime, inst["id"], "director")
    r = await post(
        runtime, f"/tasks/{director['id']}/reject", DAVE, {"comment": "check the budget"}
    )
    assert r.json()["active_nodes"] == ["manager"], r.text
    again = await only_task(runtime, inst["id"], "manager")
    assert again["assignee"] == "bob" and again["id"] != manager["id"]
    await assert_chain_valid(runtime, inst["id"])


async def test_approve_and_reject_refusals(runtime):
    inst = await _leave(runtime)
    submit = await only_task(runtime, inst["id"], "submit")
    assert (await post(runtime, f"/tasks/{submit['id']}/approve", BOB)).status_code == 403
    not_approval = await post(runtime, f"/tasks/{submit['id']}/reject", ALICE, {"comment": "x"})
    assert not_approval.status_code == 422
    assert not_approval.headers["content-type"] == "application/problem+json"
    await _submit(runtime, inst)
    assert (await post(runtime, f"/tasks/{submit['id']}/approve", ALICE)).status_code == 409
    unknown = await post(runtime, "/tasks/00000000-0000-0000-0000-000000000000/approve", ALICE)
    assert unknown.status_code == 404
    assert (
        await runtime.client.post(f"/api/v1/tasks/{submit['id']}/approve", json={})
    ).status_code == 401


async def test_the_initiator_withdraws_while_nobody_has_acted(runtime):
    inst = await _leave(runtime)
    await _submit(runtime, inst)
    assert (
        await post(runtime, f"/process-instances/{inst['id']}/withdraw", BOB)
    ).status_code == 403
    assert (
        await post(runtime, f"/process-instances/{inst['id']}/withdraw", ("mallory",))
    ).status_code == 404
    r = await post(
        runtime, f"/process-instances/{inst['id']}/withdraw", ALICE, {"reason": "plans changed"}
    )
    assert r.status_code == 200 and r.json()["state"] == "terminated", r.text
    [withdrawn] = await events(runtime, "instance.withdrawn")
    assert withdrawn["data"]["actor"] == "alice" and withdrawn["data"]["reason"] == "plans changed"
    [cancelled] = await events(runtime, "task.cancelled")
    assert cancelled["data"]["node_id"] == "manager" and cancelled["data"]["reason"] == "withdrawn"
    assert (
        await post(runtime, f"/process-instances/{inst['id']}/withdraw", ALICE)
    ).status_code == 409
    await assert_chain_valid(runtime, inst["id"])


async def test_withdrawal_is_refused_once_someone_acted_and_allowed_when_sent_back(runtime):
    inst = await _leave(runtime)
    await _submit(runtime, inst)
    manager = await only_task(runtime, inst["id"], "manager")
    await post(runtime, f"/tasks/{manager['id']}/approve", BOB)
    refused = await post(runtime, f"/process-instances/{inst['id']}/withdraw", ALICE)
    assert refused.status_code == 409 and "bob" in refused.json()["detail"]

    director = await only_task(runtime, inst["id"], "director")
    await post(runtime, f"/tasks/{director['id']}/reject", DAVE, {"comment": "reconsider"})
    manager = await only_task(runtime, inst["id"], "manager")
    await post(runtime, f"/tasks/{manager['id']}/reject", BOB, {"comment": "back to you"})
    # the request waits for alice again: she may resubmit or withdraw it
    r = await post(
        runtime, f"/process-instances/{inst['id']}/withdraw", ALICE, {"reason": "never mind"}
    )
    assert r.status_code == 200, r.text
    await assert_chain_valid(runtime, inst["id"])


CLAIMABLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">
  <process id="claimable" isExecutable="true">
    <startEvent id="start"/>
    <userTask id="review" camunda:candidateGroups="director"/>
    <endEvent id="end"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
  </process>
</definitions>"""


async def test_withdrawal_is_refused_once_the_next_person_claimed_the_task(runtime):
    await runtime.publish(CLAIMABLE, "claimable")
    inst = await start(runtime, "claimable")
    review = await only_task(runtime, inst["id"], "review")
    assert (await post(runtime, f"/tasks/{review['id']}/claim", DAVE)).status_code == 200
    refused = await post(runtime, f"/process-instances/{inst['id']}/withdraw", ALICE, {"reason": "x"})
    assert refused.status_code == 409 and "dave" in refused.json()["detail"], refused.text
    # giving it back does not undo having taken it up
    assert (await post(runtime, f"/tasks/{review['id']}/unclaim", DAVE)).status_code == 200
    still = await post(runtime, f"/process-instances/{inst['id']}/withdraw", ALICE, {"reason": "x"})
    assert still.status_code == 409, still.text
    assert (await instance(runtime, inst["id"]))["state"] == "active"


async def _handed_to_carol(runtime, path: str, by: tuple[str, ...]) -> dict:
    """A submitted leave request whose manager task `by` handed to carol (`path`: the
    operation's path below the task)."""
    await runtime.user("carol", department="sales")
    inst = await _leave(runtime)
    await _submit(runtime, inst)
    manager = await only_task(runtime, inst["id"], "manager")
    handed = await post(runtime, path.format(manager["id"]), by, {"to": "carol", "reason": "away"})
    assert handed.status_code == 200, handed.text
    return inst


async def test_withdrawal_is_refused_once_the_next_person_handed_the_task_on(runtime):
    for operation in ("transfer", "delegate"):
        inst = await _handed_to_carol(runtime, "/tasks/{}/" + operation, BOB)
        refused = await post(runtime, f"/process-instances/{inst['id']}/withdraw", ALICE, {"reason": "x"})
        assert refused.status_code == 409 and "bob" in refused.json()["detail"], (operation, refused.text)
        await assert_chain_valid(runtime, inst["id"])


async def test_an_administrators_reassignment_does_not_stop_a_withdrawal(runtime):
    inst = await _handed_to_carol(runtime, "/admin/tasks/{}/reassign", ADMIN)
    r = await post(runtime, f"/process-instances/{inst['id']}/withdraw", ALICE, {"reason": "x"})
    assert r.status_code == 200 and r.json()["state"] == "terminated", r.text


async def test_a_countersign_by_the_initiator_is_not_a_resubmission(runtime):
    """Alice signs her own request after bob did: bob's approval still stands, so she may
    not withdraw it; once carol returns it to her and she submits it again, she may."""
    await runtime.publish(model("operations-countersign.bpmn"), "countersign-demo")
    inst = await start(runtime, "countersign-demo", variables={"signers": ["bob", "alice", "carol"]})
    prepare = await only_task(runtime, inst["id"], "prepare")
    assert (await post(runtime, f"/tasks/{prepare['id']}/approve", ALICE)).status_code == 200
    signers = {t["assignee"]: t for t in await open_tasks(runtime, inst["id"], "sign")}
    assert (await post(runtime, f"/tasks/{signers['bob']['id']}/approve", BOB)).status_code == 200
    assert (await post(runtime, f"/tasks/{signers['alice']['id']}/approve", ALICE)).status_code == 200

    refused = await post(runtime, f"/process-instances/{inst['id']}/withdraw", ALICE)
    assert refused.status_code == 409 and "bob" in refused.json()["detail"], refused.text

    returned = await post(
        runtime, f"/tasks/{signers['carol']['id']}/return", ("carol",),
        {"target_node_id": "prepare", "reason": "attach the quote"},
    )
    assert returned.status_code == 200, returned.text
    prepare = await only_task(runtime, inst["id"], "prepare")
    assert (await post(runtime, f"/tasks/{prepare['id']}/approve", ALICE)).status_code == 200
    withdrawn = await post(runtime, f"/process-instances/{inst['id']}/withdraw", ALICE, {"reason": "too late"})
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "terminated", withdrawn.text
    await assert_chain_valid(runtime, inst["id"])


async def _returned_inside_another_branch(runtime) -> dict:
    """larry and fiona approved; frank sent finance2 back to fiona, not to the initiator,
    whose own branch task `own` has been open all along."""
    await runtime.publish(model("operations-parallel-two-step.bpmn"), "pfr2")
    inst = await start(runtime, "pfr2")
    draft = await only_task(runtime, inst["id"], "draft")
    assert (await post(runtime, f"/tasks/{draft['id']}/complete", ALICE)).status_code == 200
    for node, user in (("legal", "larry"), ("finance", "fiona")):
        task = await only_task(runtime, inst["id"], node)
        assert (await post(runtime, f"/tasks/{task['id']}/approve", (user,))).status_code == 200
    finance2 = await only_task(runtime, inst["id"], "finance2")
    back = await post(runtime, f"/tasks/{finance2['id']}/return", ("frank",), {"target_node_id": "finance", "reason": "redo"})
    assert back.status_code == 200, back.text
    return inst


async def test_a_return_to_someone_else_is_no_wait_for_the_initiator(runtime):
    inst = await _returned_inside_another_branch(runtime)
    refused = await post(runtime, f"/process-instances/{inst['id']}/withdraw", ALICE, {"reason": "x"})
    assert refused.status_code == 409 and "frank" in refused.json()["detail"], refused.text
    own = await only_task(runtime, inst["id"], "own")
    assert (await post(runtime, f"/tasks/{own['id']}/complete", ALICE)).status_code == 200
    still = await post(runtime, f"/process-instances/{inst['id']}/withdraw", ALICE, {"reason": "x"})
    assert still.status_code == 409, "her own branch task is no resubmission: " + still.text
    assert (await instance(runtime, inst["id"]))["state"] == "active"


async def test_an_approval_completed_without_its_outcome_names_the_outcome_field(runtime):
    inst = await _leave(runtime)
    await _submit(runtime, inst)
    task = await only_task(runtime, inst["id"], "manager")
    r = await post(runtime, f"/tasks/{task['id']}/complete", BOB, {"comment": "fine"})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["outcome"]
    plain = await start(runtime, "leave-request", variables={"days": 1})
    submit = await only_task(runtime, plain["id"], "submit")
    r = await post(runtime, f"/tasks/{submit['id']}/complete", ALICE, {"outcome": "approve"})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["outcome"], "a plain task takes no outcome"
