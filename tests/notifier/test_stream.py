"""The inbox event stream, served by a real HTTP server over a committing database: new
notifications arrive within moments of their commit (PostgreSQL LISTEN/NOTIFY), heartbeats
keep the connection open, and `Last-Event-ID` resumes after a disconnect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import uvicorn
from sqlalchemy.engine import make_url

from bpm_common.db import drop_database
from bpm_common.events.broker import OutgoingMessage
from bpm_common.events.envelope import Event
from bpm_common.events.memory import MemoryBroker
from bpm_common.events.streams import stream_name, stream_subjects
from bpm_common.testing.plugin import common_settings
from bpm_stack.embedded import free_port
from services.notifier.main import create_app
from services.notifier.settings import NotifierSettings
from tests.notifier.conftest import PUBLIC_URL
from tests.notifier.support import Instance, user_upserted


async def _publish(broker: MemoryBroker, *events: Event) -> None:
    for event in events:
        await broker.ensure_stream(
            stream_name("bpm", event.service), stream_subjects("bpm", event.service)
        )
        await broker.publish(
            [OutgoingMessage(event.nats_subject("bpm"), event.to_json().encode(), event.id)]
        )


async def _events(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, str]]:
    """Server-Sent Events as dicts (`comment` for comment lines)."""
    fields: dict[str, str] = {}
    async for line in lines:
        if line == "":
            if fields:
                yield fields
            fields = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def _next_notification(events: AsyncIterator[dict[str, str]]) -> dict[str, str]:
    async def find() -> dict[str, str]:
        async for event in events:
            if event.get("event") == "notification":
                return event
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(find(), timeout=15)


async def test_new_notifications_are_pushed_and_a_reconnect_resumes(pg_url, run_prefix, token_for):
    database = f"{run_prefix}_notifier_stream"
    port = free_port()
    settings = NotifierSettings(
        common=common_settings(pg_url, public_url=PUBLIC_URL, workers_enabled=True),
        database_name=database,
        stream_heartbeat=0.2,
        delivery_poll_interval=0.2,
    )
    broker = MemoryBroker()
    app = create_app(settings, broker=broker)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    headers = {"Authorization": f"Bearer {token_for('carol')}", "Accept": "text/event-stream"}
    url = f"http://127.0.0.1:{port}/api/v1/notifications/stream"
    try:
        await _until_serving(port)
        await asyncio.wait_for(app.state.ctx.extras["notifier"].hub.listening.wait(), 10)
        await _publish(broker, user_upserted("carol"), user_upserted("dave"))
        run = Instance()
        async with httpx.AsyncClient(timeout=20, trust_env=False) as client:
            unauthenticated = await client.get(url)
            assert unauthenticated.status_code == 401

            async with client.stream("GET", url, headers=headers) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                events = _events(response.aiter_lines())
                assert (await asyncio.wait_for(anext(events), 10)) == {"comment": "connected"}

                await _publish(broker, run.task_created("For dave", assignee="dave"))
                await _publish(broker, run.task_created("Step 1", assignee="carol"))
                first = await _next_notification(events)
                data = json.loads(first["data"])
                assert data["title"] == "New task: Step 1", "only carol's own notifications"
                assert first["id"] == data["id"]
                beat = await asyncio.wait_for(anext(events), 10)
                assert beat == {"comment": "heartbeat"}

            # missed while disconnected, then resumed from the last id seen
            await _publish(
                broker,
                run.task_created("Step 2", assignee="carol"),
                run.task_created("Step 3", assignee="carol"),
            )
            await _wait_for_inbox(client, port, headers, 3)
            resume = {**headers, "Last-Event-ID": first["id"]}
            async with client.stream("GET", url, headers=resume) as response:
                events = _events(response.aiter_lines())
                titles = [
                    json.loads((await _next_notification(events))["data"])["title"]
                    for _ in range(2)
                ]
                assert titles == ["New task: Step 2", "New task: Step 3"]
            bad = await client.get(url, headers={**headers, "Last-Event-ID": "nope"})
            assert bad.status_code == 422
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 15)
        await drop_database(make_url(pg_url).set(drivername="postgresql+asyncpg"), database)


async def _wait_for_inbox(client: httpx.AsyncClient, port: int, headers, count: int) -> None:
    inbox = f"http://127.0.0.1:{port}/api/v1/notifications"
    auth = {"Authorization": headers["Authorization"]}
    for _ in range(300):
        if len((await client.get(inbox, headers=auth)).json()["items"]) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the events were not handled")


async def _until_serving(port: int) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        for _ in range(200):
            try:
                await client.get(f"http://127.0.0.1:{port}/healthz")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise AssertionError("the server did not start")
