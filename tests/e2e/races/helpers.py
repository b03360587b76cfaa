"""Shared helpers of the race tests: deploy a model, start, race requests, check the end state."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Iterable
from typing import Any

import httpx

from tests.e2e.conftest import Gateway, eventually

NS = (
    'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0" targetNamespace="races"'
)


def model(body: str, name: str = "race") -> tuple[str, str]:
    """A BPMN document with a unique process key; `body` uses {key} for message names."""
    key = f"{name}-{uuid.uuid4().hex[:8]}"
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions {NS}>\n' + body.replace("{key}", key) + "\n</definitions>"
    xml = xml.replace('<process id="P"', f'<process id="{key}"')
    return key, xml


class Client(Gateway):
    async def h(self, user: str) -> dict[str, str]:
        return await self.login(user)

    async def deploy(self, body: str, name: str = "race") -> str:
        key, xml = model(body, name)
        designer = await self.h("designer")
        up = await self.http.post(
            "/api/v1/definitions", content=xml.encode(), headers={**designer, "Content-Type": "application/xml"}
        )
        assert up.status_code == 201, up.text
        pub = await self.http.post(f"/api/v1/definitions/{up.json()['id']}/publish", json={}, headers=designer)
        assert pub.status_code == 200, pub.text
        return key

    async def start(
        self, key: str, user: str = "alice", variables: dict[str, Any] | None = None, business_key: str | None = None
    ) -> dict[str, Any]:
        headers = await self.h(user)

        async def go() -> dict[str, Any]:
            r = await self.http.post(
                "/api/v1/process-instances",
                json={"definition_key": key, "variables": variables or {}, "business_key": business_key},
                headers=headers,
            )
            assert r.status_code == 201, r.text  # 404 until the runtime received the definition
            return r.json()

        return await eventually(go)

    async def tasks(self, user: str, instance_id: str) -> list[dict[str, Any]]:
        r = await self.http.get("/api/v1/tasks", params={"instance_id": instance_id}, headers=await self.h(user))
        assert r.status_code == 200, r.text
        return r.json()["items"]

    async def one_task(self, user: str, instance_id: str, node_id: str | None = None) -> dict[str, Any]:
        async def found() -> dict[str, Any]:
            items = [t for t in await self.tasks(user, instance_id) if node_id is None or t["node_id"] == node_id]
            assert len(items) == 1, items
            return items[0]

        return await eventually(found, timeout=10)

    async def view(self, instance_id: str, user: str = "admin") -> dict[str, Any]:
        r = await self.http.get(f"/api/v1/process-instances/{instance_id}", headers=await self.h(user))
        assert r.status_code == 200, r.text
        return r.json()

    async def history(self, instance_id: str, user: str = "admin") -> list[dict[str, Any]]:
        r = await self.http.get(
            f"/api/v1/process-instances/{instance_id}/history", params={"limit": 1000}, headers=await self.h(user)
        )
        assert r.status_code == 200, r.text
        return r.json()["items"]

    async def verify(self, instance_id: str, user: str = "admin") -> dict[str, Any]:
        r = await self.http.get(f"/api/v1/process-instances/{instance_id}/history/verify", headers=await self.h(user))
        assert r.status_code == 200, r.text
        return r.json()

    async def post(self, user: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return await self.http.post(path, json=body if body is not None else {}, headers=await self.h(user), **kw)

    async def patch(self, user: str, path: str, body: Any) -> httpx.Response:
        return await self.http.patch(path, json=body, headers=await self.h(user))


async def race(*calls: Awaitable[httpx.Response]) -> list[httpx.Response]:
    """Send the calls at once; none may hang (the client's timeout) or fail to answer."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for r in results:
        assert isinstance(r, httpx.Response), f"a request did not get an answer: {r!r}"
    return list(results)  # type: ignore[arg-type]


def statuses(responses: Iterable[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def check_answers(responses: Iterable[httpx.Response], allowed: set[int]) -> None:
    """Every answer is an allowed status; every refusal is problem+json naming its status."""
    for r in responses:
        assert r.status_code in allowed, f"{r.request.method} {r.request.url.path} -> {r.status_code}: {r.text}"
        if r.status_code >= 400:
            assert r.headers["content-type"].startswith("application/problem+json"), r.headers
            assert r.json()["status"] == r.status_code, r.text


async def check_history(gw: Client, instance_id: str) -> list[dict[str, Any]]:
    """The chain is intact and no task was created, completed or cancelled twice."""
    verify = await gw.verify(instance_id)
    assert verify["valid"], verify
    hist = await gw.history(instance_id)
    for action in ("task_created", "task_completed", "task_cancelled"):
        seen = Counter(h["task_id"] for h in hist if h["action"] == action and h.get("task_id"))
        twice = {t: n for t, n in seen.items() if n > 1}
        assert not twice, f"{action} twice for {twice}: {hist}"
    created = {h["task_id"] for h in hist if h["action"] == "task_created"}
    completed = {h["task_id"] for h in hist if h["action"] == "task_completed"}
    cancelled = {h["task_id"] for h in hist if h["action"] == "task_cancelled"}
    assert not (completed & cancelled), f"tasks both completed and cancelled: {completed & cancelled}"
    assert completed <= created | completed  # completions of created tasks
    ends = [h for h in hist if h["action"] in ("instance_completed", "instance_terminated")]
    assert len(ends) <= 1, ends
    return hist


def actions(hist: list[dict[str, Any]], action: str, node_id: str | None = None) -> list[dict[str, Any]]:
    return [h for h in hist if h["action"] == action and (node_id is None or h["node_id"] == node_id)]
