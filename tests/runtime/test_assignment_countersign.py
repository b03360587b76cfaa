"""A countersign whose signers are rules: resolved when the request is submitted."""

from __future__ import annotations

from tests.runtime.conftest import MODELS

MODEL = (MODELS / "assignment-role-countersign.bpmn").read_bytes()


async def test_every_holder_of_the_role_must_sign(runtime):
    await runtime.publish(MODEL, "role-countersign")
    for name in ("lee", "lin"):
        await runtime.user(name, "legal")
    c = runtime.client
    inst = (await c.post("/api/v1/process-instances", json={"definition_key": "role-countersign"}, headers=runtime.auth("alice"))).json()
    view = (await c.get(f"/api/v1/process-instances/{inst['id']}", headers=runtime.auth("alice"))).json()
    assert sorted(view["variables"]["sign_signers"]) == ["lee", "lin"]
    for name in ("lee", "lin"):
        [task] = (await c.get("/api/v1/tasks", headers=runtime.auth(name))).json()["items"]
        assert task["assignee"] == name
        r = await c.post(f"/api/v1/tasks/{task['id']}/approve", json={"comment": "ok"}, headers=runtime.auth(name))
        assert r.status_code == 200, r.text
    view = (await c.get(f"/api/v1/process-instances/{inst['id']}", headers=runtime.auth("alice"))).json()
    assert view["state"] == "completed"


async def test_a_role_nobody_holds_goes_to_the_administrators(runtime):
    await runtime.publish(MODEL, "role-countersign")
    await runtime.user("root", "admin")
    c = runtime.client
    await c.post("/api/v1/process-instances", json={"definition_key": "role-countersign"}, headers=runtime.auth("alice"))
    [task] = (await c.get("/api/v1/tasks", headers=runtime.auth("root"))).json()["items"]
    assert task["assignee"] == "root"
