"""Fixtures of the HTTP connector tests: a real local HTTP server whose answers a
test sets per path, a connector, and a model builder for `bpm:http` tasks."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
from aiohttp import web
from sqlalchemy import select

from bpm_common import jsonutil
from bpm_stack.embedded import free_port
from services.runtime.instances.models import history
from services.runtime.work.connector import HttpConnector
from services.runtime.work.models import incidents, work_items
from tests.runtime.conftest import runtime  # noqa: F401

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LATER = dt.timedelta(days=1)


@dataclass
class Server:
    """A local HTTP service: `routes[name]` answers `/r/<name>`; every request is recorded."""

    base: str
    routes: dict[str, Handler] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"{self.base}/r/{name}"

    def hits(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.received if r["path"] == f"/r/{name}"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server() -> AsyncIterator[Server]:
    port = free_port()
    state = Server(f"http://127.0.0.1:{port}")

    async def dispatch(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        state.received.append({
            "path": request.path, "method": request.method, "headers": dict(request.headers),
            "raw_headers": list(request.raw_headers), "body": raw, "query": request.query_string,
        })
        handler = state.routes.get(request.match_info["name"])
        if handler is None:
            return web.json_response({"ok": True})
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/r/{name}", dispatch)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield state
    await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def connector(runtime) -> AsyncIterator[HttpConnector]:  # noqa: F811
    connector = HttpConnector(runtime.client.app.state.ctx)
    yield connector
    await connector.aclose()


HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0" targetNamespace="t">'
)


def http_model(key: str, http: str) -> bytes:
    """A process: start → service task `call` with the given `<bpm:http>` → user task `after` → end."""
    return (HEAD + f"""
  <process id="{key}" isExecutable="true">
    <startEvent id="start"/><sequenceFlow id="f1" sourceRef="start" targetRef="call"/>
    <serviceTask id="call" name="Call"><extensionElements>{http}</extensionElements></serviceTask>
    <sequenceFlow id="f2" sourceRef="call" targetRef="after"/>
    <userTask id="after" camunda:assignee="erin"/>
    <sequenceFlow id="f3" sourceRef="after" targetRef="done"/><endEvent id="done"/>
  </process></definitions>""").encode()


async def start(runtime, key: str, http: str, **variables: Any) -> str:  # noqa: F811
    """Publish the model (once per key and test) and start an instance; its id."""
    await runtime.publish(http_model(key, http), key)
    r = await runtime.client.post(
        "/api/v1/process-instances", json={"definition_key": key, "variables": variables},
        headers=runtime.auth("alice"),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def instance(runtime, instance_id: str) -> dict[str, Any]:  # noqa: F811
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}", headers=runtime.auth("admin", "admin"))
    assert r.status_code == 200, r.text
    return r.json()


async def item(runtime) -> dict[str, Any]:  # noqa: F811
    async with runtime.db.transaction() as session:
        return dict((await session.execute(select(work_items))).mappings().one())


async def trail_text(runtime) -> str:  # noqa: F811
    """Everything written about the work: history details, work item errors, incidents, events."""
    from bpm_common.events.outbox import add_event_tables
    from services.runtime.database import Base

    outbox, _ = add_event_tables(Base.metadata)
    async with runtime.db.transaction() as session:
        parts = [
            (await session.execute(select(history))).mappings().all(),
            (await session.execute(select(work_items.c.last_error))).scalars().all(),
            (await session.execute(select(incidents))).mappings().all(),
            (await session.execute(select(outbox.c.payload))).scalars().all(),
        ]
    return jsonutil.dumps([[dict(r) if hasattr(r, "keys") else r for r in p] for p in parts])


def later() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + LATER
