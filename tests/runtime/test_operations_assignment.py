"""Who works a task: transfer (转办), delegate and resolve (委派), claim and unclaim,
urge (催办)."""

from __future__ import annotations

import datetime as dt

from services.runtime.tasks.models import tasks
from tests.runtime.test_operations_helpers import (
    assert_chain_valid,
    events,
    history,
    model,
    only_task,
    post,
    start,
)


async def _inbox(runtime, *user: str) -> list[str]:
    r = await runtime.client.get("/api/v1/tasks", headers=runtime.auth(*user))
    return [t["node_id"] for t in r.json()["items"]]


async def _at(runtime, node: str) -> tuple[dict, dict]:
    """A leave request waiting at `node` (manager: bob's; director: offered to the role)."""
    await runtime.publish(model("operations-approval.bpmn"), "leave-request")
    for user in ("carol", "dave", "bob"):
        await runtime.user(user, department="sales")
    inst = await start(runtime, "leave-request")
    submit = await only_task(runtime, inst["id"], "submit")
    await post(runtime, f"/tasks/{submit['id']}/approve", ("alice",))
    if node == "director":
        manager = await only_task(runtime, inst["id"], "manager")
        await post(runtime, f"/tasks/{manager['id']}/approve", ("bob",))
    return inst, await only_task(runtime, inst["id"], node)


async def test_transfer_hands_the_same_task_to_someone_else(runtime):
    inst, task = await _at(runtime, "manager")
    assert (
        await post(runtime, f"/tasks/{task['id']}/transfer", ("carol",), {"to": "dave"})
    ).status_code == 403
    unknown = await post(runtime, f"/tasks/{task['id']}/transfer", ("bob",), {"to": "ghost"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "to"
    r = await post(
        runtime, f"/tasks/{task['id']}/transfer", ("bob",), {"to": "carol", "reason": "on leave"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["id"] == task["id"] and r.json()["assignee"] == "carol"
    assert await _inbox(runtime, "bob") == [] and await _inbox(runtime, "carol") == ["manager"]
    assert (await post(runtime, f"/tasks/{task['id']}/approve", ("bob",))).status_code == 403
    [assigned] = await events(runtime, "task.assigned")
    data = assigned["data"]
    assert (
        data["kind"],
        data["assignee"],
        data["previous_assignee"],
        data["actor"],
        data["reason"],
    ) == ("transfer", "carol", "bob", "bob", "on leave")
    assert data["task_id"] == task["id"] and data["instance_id"] == inst["id"]
    assert (await post(runtime, f"/tasks/{task['id']}/approve", ("carol",))).status_code == 200
    await assert_chain_valid(runtime, inst["id"])


async def test_delegate_then_resolve_then_the_owner_completes(runtime):
    inst, task = await _at(runtime, "manager")
    r = await post(
        runtime, f"/tasks/{task['id']}/delegate", ("bob",), {"to": "dave", "reason": "check dates"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["owner"], r.json()["assignee"], r.json()["delegation_state"]) == (
        "bob",
        "dave",
        "pending",
    )
    assert await _inbox(runtime, "dave") == ["manager"]
    assert (await post(runtime, f"/tasks/{task['id']}/approve", ("dave",))).status_code == 409
    assert (
        await post(runtime, f"/tasks/{task['id']}/delegate", ("dave",), {"to": "carol"})
    ).status_code == 409
    assert (await post(runtime, f"/tasks/{task['id']}/resolve", ("bob",))).status_code == 403

    r = await post(
        runtime,
        f"/tasks/{task['id']}/resolve",
        ("dave",),
        {"comment": "dates are fine", "variables": {"checked_by": "dave"}},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["assignee"], r.json()["owner"], r.json()["delegation_state"]) == (
        "bob",
        None,
        "resolved",
    )
    # dave's part is over: the task no longer concerns him
    assert (await post(runtime, f"/tasks/{task['id']}/resolve", ("dave",))).status_code == 403
    done = await post(runtime, f"/tasks/{task['id']}/approve", ("bob",))
    assert done.status_code == 200 and done.json()["active_nodes"] == ["director"]

    kinds = [
        (e["data"]["kind"], e["data"]["assignee"], e["data"]["owner"])
        for e in await events(runtime, "task.assigned")
    ]
    assert kinds == [("delegate", "dave", "bob"), ("resolve", "bob", None)]
    entries = [
        (h["action"], h["actor"], h["comment"])
        for h in await history(runtime, inst["id"])
        if h["action"] in ("task_delegated", "task_resolved", "variables_updated")
    ]
    assert entries == [
        ("task_delegated", "bob", "check dates"),
        ("variables_updated", "dave", None),
        ("task_resolved", "dave", "dates are fine"),
    ]
    await assert_chain_valid(runtime, inst["id"])


async def test_claim_and_unclaim_a_task_offered_to_a_role(runtime):
    inst, task = await _at(runtime, "director")
    assert (await post(runtime, f"/tasks/{task['id']}/claim", ("carol",))).status_code == 403
    r = await post(runtime, f"/tasks/{task['id']}/claim", ("dave", "director"))
    assert r.status_code == 200 and r.json()["assignee"] == "dave", r.text
    assert await _inbox(runtime, "zoe", "director") == [], "claimed: no longer offered to the role"
    assert (
        await post(runtime, f"/tasks/{task['id']}/claim", ("zoe", "director"))
    ).status_code == 409
    assert (
        await post(runtime, f"/tasks/{task['id']}/unclaim", ("zoe", "director"))
    ).status_code == 403
    r = await post(runtime, f"/tasks/{task['id']}/unclaim", ("dave", "director"))
    assert r.status_code == 200 and r.json()["assignee"] is None
    assert await _inbox(runtime, "zoe", "director") == ["director"]
    delegate_unclaimed = await post(
        runtime, f"/tasks/{task['id']}/delegate", ("dave", "director"), {"to": "carol"}
    )
    assert delegate_unclaimed.status_code == 409, "claim before delegating"
    kinds = [e["data"]["kind"] for e in await events(runtime, "task.assigned")]
    assert kinds == ["claim", "unclaim"]
    await assert_chain_valid(runtime, inst["id"])


async def test_a_directly_assigned_task_cannot_be_unclaimed(runtime):
    _, task = await _at(runtime, "manager")
    assert (await post(runtime, f"/tasks/{task['id']}/unclaim", ("bob",))).status_code == 409


async def test_the_initiator_urges_at_most_once_in_ten_minutes(runtime):
    inst, task = await _at(runtime, "manager")
    assert (await post(runtime, f"/tasks/{task['id']}/urge", ("carol",))).status_code == 403
    r = await post(
        runtime,
        f"/tasks/{task['id']}/urge",
        ("alice",),
        {"message": "flight booking closes Friday"},
    )
    assert r.status_code == 200 and r.json()["last_urged_at"] is not None, r.text
    [urged] = await events(runtime, "task.urged")
    assert (urged["data"]["assignee"], urged["data"]["actor"], urged["data"]["message"]) == (
        "bob",
        "alice",
        "flight booking closes Friday",
    )
    again = await post(runtime, f"/tasks/{task['id']}/urge", ("alice",))
    assert again.status_code == 429
    assert 0 < int(again.headers["retry-after"]) <= 600
    assert (await post(runtime, f"/tasks/{task['id']}/urge", ("admin", "admin"))).status_code == 429
    too_long = await post(runtime, f"/tasks/{task['id']}/urge", ("alice",), {"message": "x" * 501})
    assert too_long.status_code == 422

    async with runtime.db.transaction() as session:
        await session.execute(
            tasks.update()
            .where(tasks.c.id == task["id"])
            .values(last_urged_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11))
        )
    assert (await post(runtime, f"/tasks/{task['id']}/urge", ("alice",))).status_code == 200
    assert [h["action"] for h in await history(runtime, inst["id"])].count("task_urged") == 2
    await assert_chain_valid(runtime, inst["id"])


async def test_an_outsider_learns_nothing_of_a_task_from_operations_on_it(runtime):
    await runtime.user("mallory")
    inst, task = await _at(runtime, "director")
    claimed = await post(runtime, f"/tasks/{task['id']}/claim", ("dave", "director"))
    assert claimed.status_code == 200, claimed.text
    for action, body in [("claim", None), ("unclaim", None), ("transfer", {"to": "carol"}),
                         ("delegate", {"to": "carol"}), ("resolve", None), ("urge", None),
                         ("complete", {}), ("approve", None)]:
        r = await post(runtime, f"/tasks/{task['id']}/{action}", ("mallory",), body)
        assert r.status_code == 403, (action, r.text)
        assert "dave" not in r.text and "already" not in r.text, (action, r.text)

    done = await post(runtime, f"/tasks/{task['id']}/approve", ("dave", "director"))
    assert done.status_code == 200, done.text
    for action in ("complete", "approve", "claim", "transfer", "urge"):
        r = await post(runtime, f"/tasks/{task['id']}/{action}", ("mallory",), {"to": "carol"} if action == "transfer" else None)
        assert r.status_code == 403 and "completed" not in r.text, (action, r.text)
    again = await post(runtime, f"/tasks/{task['id']}/approve", ("dave", "director"))
    assert again.status_code == 409, "whoever worked the task still hears that it is done"
