"""Copies (抄送): copy nodes and RACI informed people, manual copies, read receipts, and
the right of a recipient to read the instance."""

from __future__ import annotations

from typing import Any

from tests.runtime.conftest import MODELS
from tests.runtime.test_assignment_rules import build_org
from tests.runtime.test_deadlines_jobs import events, history, open_task

ADMIN = ("admin", "admin")


async def start(runtime, initiator: str = "alice") -> str:
    await runtime.publish((MODELS / "copies-node.bpmn").read_bytes(), "copies-demo")
    response = await runtime.client.post(
        "/api/v1/process-instances",
        json={"definition_key": "copies-demo", "business_key": "EXP-7"},
        headers=runtime.auth(initiator),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def my_copies(runtime, username: str, query: str = "") -> list[dict[str, Any]]:
    response = await runtime.client.get(f"/api/v1/copies{query}", headers=runtime.auth(username))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def copy(
    runtime, instance_id: str, username: str, body: dict[str, Any], *roles: str, **headers: str
):
    return await runtime.client.post(
        f"/api/v1/process-instances/{instance_id}/copies",
        json=body,
        headers={**runtime.auth(username, *roles), **headers},
    )


async def test_a_copy_node_copies_the_instance_when_it_is_passed(runtime):
    await build_org(runtime)
    instance_id = await start(runtime)
    created = await events(runtime, "copy.created")
    assert [(e["recipients"], e["node_id"], e["kind"], e["actor"]) for e in created] == [
        (["carol"], "cc", "copy", None),
        (["erin"], "cc", "copy", None),
    ]
    assert created[0]["business_key"] == "EXP-7" and created[0]["name"] == "Copy finance"
    [mine] = await my_copies(runtime, "carol")
    assert mine["id"] == created[0]["copy_id"]
    assert (mine["node_id"], mine["kind"], mine["read_at"]) == ("cc", "copy", None)
    assert (
        mine["instance"]["definition_key"] == "copies-demo"
        and mine["instance"]["initiator"] == "alice"
    )
    actions = {h["action"]: h for h in await history(runtime, instance_id)}
    assert actions["copy_created"]["details"]["recipients"] == ["carol", "erin"]
    assert actions["copy_unresolved"]["details"] == {
        "rule": "role:auditor",
        "reason": "no active user holds the role auditor",
        "kind": "copy",
    }


async def test_raci_informed_people_get_a_copy_when_the_node_completes(runtime):
    await build_org(runtime)
    instance_id = await start(runtime)
    assert await my_copies(runtime, "dave") == []
    task = await open_task(runtime, instance_id)
    assert (
        await runtime.client.post(
            f"/api/v1/tasks/{task['id']}/complete", json={}, headers=runtime.auth("bob")
        )
    ).status_code == 200
    informed = [e for e in await events(runtime, "copy.created") if e["kind"] == "informed"]
    assert [(e["recipients"], e["node_id"]) for e in informed] == [
        (["bob"], "review"),
        (["dave"], "review"),
    ]
    [copied] = await my_copies(runtime, "dave")
    assert copied["instance"]["state"] == "completed"


async def test_a_recipient_may_read_the_instance_and_a_stranger_may_not(runtime):
    await build_org(runtime)
    instance_id = await start(runtime)
    c = runtime.client
    for path in (
        f"/api/v1/process-instances/{instance_id}",
        f"/api/v1/process-instances/{instance_id}/history",
    ):
        assert (await c.get(path, headers=runtime.auth("carol"))).status_code == 200
        assert (await c.get(path, headers=runtime.auth("frank"))).status_code == 404
    listed = (await c.get("/api/v1/process-instances", headers=runtime.auth("carol"))).json()[
        "items"
    ]
    assert [item["id"] for item in listed] == [instance_id]


async def test_read_receipts_are_idempotent_and_only_for_the_recipient(runtime):
    await build_org(runtime)
    instance_id = await start(runtime)
    c = runtime.client
    [mine] = await my_copies(runtime, "carol", "?unread=true")
    assert (
        await c.post(f"/api/v1/copies/{mine['id']}/read", headers=runtime.auth("erin"))
    ).status_code == 404
    first = await c.post(f"/api/v1/copies/{mine['id']}/read", headers=runtime.auth("carol"))
    assert first.status_code == 200 and first.json()["read_at"] is not None
    again = await c.post(f"/api/v1/copies/{mine['id']}/read", headers=runtime.auth("carol"))
    assert again.json()["read_at"] == first.json()["read_at"]
    trail = (await c.get(f"/api/v1/process-instances/{instance_id}/history", headers=runtime.auth(*ADMIN))).json()
    receipts_in_history = [e for e in trail["items"] if e["action"] == "copy_read"]
    assert [(e["actor"], e["details"]["copy_id"]) for e in receipts_in_history] == [("carol", mine["id"])], "once"
    assert await my_copies(runtime, "carol", "?unread=true") == []
    assert len(await my_copies(runtime, "carol")) == 1

    receipts = await c.get(
        f"/api/v1/process-instances/{instance_id}/copies", headers=runtime.auth("alice")
    )
    assert receipts.status_code == 200
    assert {
        (item["recipient"], item["read_at"] is not None) for item in receipts.json()["items"]
    } == {("carol", True), ("erin", False)}
    assert (
        await c.get(f"/api/v1/process-instances/{instance_id}/copies", headers=runtime.auth(*ADMIN))
    ).status_code == 200
    assert (
        await c.get(
            f"/api/v1/process-instances/{instance_id}/copies", headers=runtime.auth("carol")
        )
    ).status_code == 404


async def test_the_initiator_copies_the_instance_by_hand(runtime):
    await build_org(runtime)
    instance_id = await start(runtime)
    response = await copy(
        runtime,
        instance_id,
        "alice",
        {
            "to": ["user:frank", "role:finance_reviewer", "user:frank"],
            "message": "FYI, the trip to Shenzhen",
        },
    )
    assert response.status_code == 201, response.text
    items = response.json()["items"]
    assert [(i["recipient"], i["kind"], i["created_by"]) for i in items] == [
        ("frank", "manual", "alice"),
        ("carol", "manual", "alice"),
    ]
    manual = [e for e in await events(runtime, "copy.created") if e["kind"] == "manual"]
    assert [(e["recipients"], e["actor"], e["message"], e["node_id"]) for e in manual] == [
        (["frank"], "alice", "FYI, the trip to Shenzhen", None),
        (["carol"], "alice", "FYI, the trip to Shenzhen", None),
    ]
    assert (
        await runtime.client.get(
            f"/api/v1/process-instances/{instance_id}", headers=runtime.auth("frank")
        )
    ).status_code == 200
    [entry] = [
        h
        for h in await history(runtime, instance_id)
        if h["action"] == "copy_created" and h["actor"] == "alice"
    ]
    assert entry["comment"] == "FYI, the trip to Shenzhen"


async def test_participants_and_administrators_may_copy_others_may_not(runtime):
    await build_org(runtime)
    instance_id = await start(runtime)
    body = {"to": ["user:ceo"]}
    assert (await copy(runtime, instance_id, "bob", body)).status_code == 201  # has the task
    assert (await copy(runtime, instance_id, "root", body, "admin")).status_code == 201
    assert (await copy(runtime, instance_id, "carol", body)).status_code == 403  # only a recipient
    # frank cannot see the instance: 404, as for every look at it
    assert (await copy(runtime, instance_id, "frank", body)).status_code == 404
    missing = "01900000-0000-7000-8000-000000000000"
    assert (await copy(runtime, missing, "root", body, "admin")).status_code == 404


async def test_manual_copies_name_the_recipients_at_fault(runtime):
    await build_org(runtime)
    instance_id = await start(runtime)
    bad = await copy(runtime, instance_id, "alice", {"to": ["everyone", "user:carol"]})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["to[0]"]
    nobody = await copy(runtime, instance_id, "alice", {"to": ["user:carol", "role:auditor"]})
    assert nobody.status_code == 422
    [error] = nobody.json()["errors"]
    assert error["field"] == "to[1]" and "no active user holds the role auditor" in error["message"]
    assert (await copy(runtime, instance_id, "alice", {"to": []})).status_code == 422
    typo = await copy(runtime, instance_id, "alice", {"to": ["user:carol", "user:fiona", "user:frnak"]})
    assert typo.status_code == 422
    assert [(e["field"], e["message"]) for e in typo.json()["errors"]] == [
        ("to[1]", "user:fiona names nobody: the organisation has no user fiona"),
        ("to[2]", "user:frnak names nobody: the organisation has no user frnak"),
    ]
    assert len(await my_copies(runtime, "carol")) == 1, "only the copy node's"


async def test_a_retried_manual_copy_is_made_once(runtime):
    await build_org(runtime)
    instance_id = await start(runtime)
    key = {"Idempotency-Key": "copy-1"}
    first = await copy(runtime, instance_id, "alice", {"to": ["user:frank"]}, **key)
    second = await copy(runtime, instance_id, "alice", {"to": ["user:frank"]}, **key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(await my_copies(runtime, "frank")) == 1
