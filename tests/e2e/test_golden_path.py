"""The golden path of API.md through the gateway, against the running platform."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Gateway, eventually

pytestmark = pytest.mark.e2e
MODEL = (Path(__file__).parent / "models/purchase-flowable.bpmn").read_bytes()


async def _tasks(gw: Gateway, user: str, **params) -> list[dict]:
    r = await gw.http.get("/api/v1/tasks", params=params, headers=await gw.login(user))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_any_model_runs_the_golden_path(stack, gw, smtp_server):
    mailbox, _ = smtp_server
    key = f"purchase-{uuid.uuid4().hex[:8]}"
    bpmn = MODEL.replace(b'id="purchase-e2e"', f'id="{key}"'.encode()).replace(
        b'bpmnElement="purchase-e2e"', f'bpmnElement="{key}"'.encode()
    )
    designer = await gw.login("designer")
    alice = await gw.login("alice")

    # no token, wrong role
    assert (await gw.http.get("/api/v1/tasks")).status_code == 401
    assert (
        await gw.http.post("/api/v1/definitions", content=bpmn, headers={**alice, "Content-Type": "application/xml"})
    ).status_code == 403

    up = await gw.http.post("/api/v1/definitions", content=bpmn, headers={**designer, "Content-Type": "application/xml"})
    assert up.status_code == 201, up.text
    d = up.json()
    assert (d["key"], d["version"], d["status"]) == (key, 1, "draft")
    pub = await gw.http.post(f"/api/v1/definitions/{d['id']}/publish", json={}, headers=designer)
    assert pub.status_code == 200, pub.text
    assert pub.json()["status"] == "published"
    exported = await gw.http.get(f"/api/v1/definitions/{d['id']}/bpmn", headers=designer)
    assert exported.content == bpmn
    listed = (await gw.http.get("/api/v1/definitions", params={"key": key}, headers=designer)).json()
    assert [i["version"] for i in listed["items"]] == [1]

    async def started():
        r = await gw.http.post(
            "/api/v1/process-instances",
            json={"definition_key": key, "variables": {"budget": 5000}, "business_key": "PO-1"},
            headers=alice,
        )
        assert r.status_code == 201, r.text  # 404 until the runtime received the definition
        return r.json()

    inst = await eventually(started)
    assert inst["definition_version"] == 1 and inst["state"] == "active"

    # each task offered to the right person only
    async def offered():
        budget = await _tasks(gw, "carol", instance_id=inst["id"])
        supplier = await _tasks(gw, "dave", instance_id=inst["id"])
        assert [t["node_id"] for t in budget] == ["checkBudget"]
        assert [t["node_id"] for t in supplier] == ["checkSupplier"]
        return budget[0], supplier[0]

    budget, supplier = await offered()
    for outsider in ("bob", "erin", "alice"):
        assert await _tasks(gw, outsider, instance_id=inst["id"]) == []

    carol, dave = await gw.login("carol"), await gw.login("dave")
    assert (await gw.http.post(f"/api/v1/tasks/{supplier['id']}/complete", json={}, headers=carol)).status_code == 403
    ok = await gw.http.post(
        f"/api/v1/tasks/{budget['id']}/complete", json={"comment": "budget available"}, headers=carol
    )
    assert ok.status_code == 200, ok.text
    assert (await gw.http.post(f"/api/v1/tasks/{budget['id']}/complete", json={}, headers=carol)).status_code == 409
    assert (await gw.http.post(f"/api/v1/tasks/{supplier['id']}/complete", json={}, headers=dave)).status_code == 200

    # the parallel join passed and the requester (initiator) confirms
    [confirm] = await _tasks(gw, "alice", instance_id=inst["id"])
    assert confirm["node_id"] == "confirm" and confirm["assignee"] == "alice"
    done = await gw.http.post(f"/api/v1/tasks/{confirm['id']}/complete", json={"comment": "thanks"}, headers=alice)
    assert done.status_code == 200

    view = (await gw.http.get(f"/api/v1/process-instances/{inst['id']}", headers=alice)).json()
    assert view["state"] == "completed" and view["active_nodes"] == []
    assert view["variables"]["requester"] == "alice"

    hist = (await gw.http.get(f"/api/v1/process-instances/{inst['id']}/history", headers=alice)).json()["items"]
    completed = [(h["actor"], h["node_id"], h["comment"]) for h in hist if h["action"] == "task_completed"]
    assert completed == [
        ("carol", "checkBudget", "budget available"), ("dave", "checkSupplier", None), ("alice", "confirm", "thanks")
    ]
    assert all(h.keys() >= {"at", "actor", "action", "node_id", "comment"} for h in hist)

    # in-app notification for the offered task, and an email through SMTP
    async def notified():
        r = await gw.http.get("/api/v1/notifications", headers=carol)
        assert r.status_code == 200, r.text
        mine = [n for n in r.json()["items"] if n.get("task_id") == budget["id"]]
        assert len(mine) == 1 and "Check budget" in mine[0]["title"]
        assert {"id", "kind", "title", "created_at", "read_at"} <= mine[0].keys()

    await eventually(notified)

    async def mailed():
        to_carol = [m for m in mailbox.messages if "carol@demo.local" in m["X-Envelope-To"] and "Check budget" in str(m["Subject"])]
        assert to_carol

    await eventually(mailed)

    # analytics summary
    async def summarised():
        r = await gw.http.get(f"/api/v1/analytics/processes/{key}/summary", headers=designer)
        assert r.status_code == 200, r.text
        s = r.json()
        assert (s["started"], s["completed"], s["running"]) == (1, 1, 0)
        assert s["avg_cycle_seconds"] is not None and s["avg_cycle_seconds"] >= 0

    await eventually(summarised)
    assert (await gw.http.get(f"/api/v1/analytics/processes/{key}/summary", headers=alice)).status_code == 403

    # Prometheus counters of the runtime
    metrics = httpx.get(f"{stack.url('runtime')}/metrics").text
    assert f'bpm_process_instances_started_total{{process="{key}"}} 1.0' in metrics
    assert f'bpm_process_instances_completed_total{{process="{key}"}} 1.0' in metrics
    assert f'bpm_tasks_completed_total{{process="{key}"}} 3.0' in metrics
    assert "bpm_http_request_duration_seconds" in httpx.get(f"{stack.url('gateway')}/metrics").text


async def test_demo_expense_process_is_seeded(stack, gw):
    alice = await gw.login("alice")
    r = await gw.http.post(
        "/api/v1/process-instances",
        json={"definition_key": "expense-reimbursement", "variables": {"amount": 80}},
        headers=alice,
    )
    assert r.status_code == 201, r.text
    [review] = await _tasks(gw, "bob", instance_id=r.json()["id"])
    assert review["name"] == "Department review"
    bad = await gw.http.post("/api/v1/auth/token", json={"username": "alice", "password": "wrong"})
    assert bad.status_code == 401


async def test_gateway_is_ready_and_serves_one_openapi(stack, gw):
    assert (await gw.http.get("/readyz")).status_code == 200
    spec = (await gw.http.get("/openapi.json")).json()
    for path in ("/api/v1/auth/token", "/api/v1/definitions", "/api/v1/process-instances", "/api/v1/tasks/{task_id}/complete",
                 "/api/v1/notifications", "/api/v1/analytics/processes/{key}/summary"):
        assert path in spec["paths"], path
