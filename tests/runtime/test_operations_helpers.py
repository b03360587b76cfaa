"""Helpers shared by the approval operation, administration and migration tests (no tests here)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bpm_common import jsonutil
from tests.runtime.conftest import MODELS

ADMIN = ("admin", "admin")


def model(name: str) -> bytes:
    return (MODELS / name).read_bytes()


async def start(
    runtime: Any, key: str, user: str = "alice", variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    r = await runtime.client.post(
        "/api/v1/process-instances",
        json={"definition_key": key, "variables": variables or {}},
        headers=runtime.auth(user),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def open_tasks(
    runtime: Any, instance_id: str, node_id: str | None = None
) -> list[dict[str, Any]]:
    """Every open task of the instance (as an administrator sees them), oldest first."""
    params = {
        "scope": "all",
        "instance_id": instance_id,
        **({"node_id": node_id} if node_id else {}),
    }
    r = await runtime.client.get("/api/v1/tasks", params=params, headers=runtime.auth(*ADMIN))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def only_task(runtime: Any, instance_id: str, node_id: str) -> dict[str, Any]:
    [task] = await open_tasks(runtime, instance_id, node_id)
    return task


async def post(
    runtime: Any, path: str, user: tuple[str, ...], body: dict[str, Any] | None = None
) -> Any:
    return await runtime.client.post(f"/api/v1{path}", json=body or {}, headers=runtime.auth(*user))


async def instance(runtime: Any, instance_id: str) -> dict[str, Any]:
    r = await runtime.client.get(
        f"/api/v1/process-instances/{instance_id}", headers=runtime.auth(*ADMIN)
    )
    assert r.status_code == 200, r.text
    return r.json()


async def history(runtime: Any, instance_id: str) -> list[dict[str, Any]]:
    r = await runtime.client.get(
        f"/api/v1/process-instances/{instance_id}/history", headers=runtime.auth(*ADMIN)
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def assert_chain_valid(runtime: Any, instance_id: str) -> None:
    r = await runtime.client.get(
        f"/api/v1/process-instances/{instance_id}/history/verify", headers=runtime.auth(*ADMIN)
    )
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True, r.json()


async def events(runtime: Any, type_suffix: str | None = None) -> list[dict[str, Any]]:
    """Outbox events in order (type and data), optionally only `bpm.runtime.<type_suffix>`."""
    from bpm_common.events.outbox import add_event_tables
    from services.runtime.database import Base

    outbox, _ = add_event_tables(Base.metadata)
    async with runtime.db.connection() as conn:
        rows = (await conn.execute(select(outbox.c.payload).order_by(outbox.c.position))).all()
    found = [jsonutil.loads(r.payload) for r in rows]
    if type_suffix:
        found = [e for e in found if e["type"] == f"bpm.runtime.{type_suffix}"]
    return found
