"""Shared helpers of the administrator-intervention tests (no tests here)."""

from __future__ import annotations

from typing import Any

from tests.bpmn_events.helpers import admin, engine_state, open_tasks, trail


async def act(runtime, instance_id: str, action: str, **body: Any):
    return await runtime.client.post(f"/api/v1/admin/process-instances/{instance_id}/{action}",
                                     json=body, headers=admin(runtime))


async def tokens(runtime, instance_id: str) -> dict[str, Any]:
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}/tokens", headers=admin(runtime))
    assert r.status_code == 200, r.text
    return r.json()


async def token_at(runtime, instance_id: str, node_id: str, *, task: bool | None = None) -> dict[str, Any]:
    found = [t for t in (await tokens(runtime, instance_id))["tokens"] if t["node_id"] == node_id
             and (task is None or bool(t["task"]) == task)]
    assert len(found) == 1, found
    return found[0]


async def verify(runtime, instance_id: str) -> None:
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}/history/verify",
                                 headers=admin(runtime))
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True, r.json()


async def actions(runtime, instance_id: str, *names: str) -> list[tuple]:
    return [(h["action"], h["node_id"], h["comment"]) for h in await trail(runtime, instance_id)
            if h["action"] in names]


async def incidents(runtime, instance_id: str, state: str | None = None) -> list[dict[str, Any]]:
    params = {"instance_id": instance_id, **({"state": state} if state else {})}
    r = await runtime.client.get("/api/v1/incidents", params=params, headers=admin(runtime))
    assert r.status_code == 200, r.text
    return r.json()["items"]


__all__ = ["act", "actions", "engine_state", "incidents", "token_at", "tokens", "verify"]


async def skip_task(runtime, instance_id: str, node_id: str, **variables: Any) -> None:
    """An administrator finishes the instance's task at `node_id` (a suspended instance's
    tasks refuse completion by their assignees)."""
    [task] = [t for t in await open_tasks(runtime, instance_id) if t["node_id"] == node_id]
    r = await act(runtime, instance_id, "skip", task_id=str(task["id"]), reason="done by phone", variables=variables)
    assert r.status_code == 200, r.text
