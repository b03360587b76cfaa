"""The platform keeps its promises when NATS goes away: nothing committed is lost."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from bpm_stack.embedded import EmbeddedNats, free_port
from tests.e2e.conftest import Gateway, drop_stack_databases, eventually, make_stack

pytestmark = pytest.mark.e2e
MODEL = (Path(__file__).parent / "models/purchase-flowable.bpmn").read_bytes()


async def test_definition_published_while_nats_is_down_reaches_the_runtime_when_it_is_back(
    pg_url, run_prefix, tmp_path
):
    nats = EmbeddedNats(tmp_path / "nats", port=free_port())
    nats.start()
    prefix = f"{run_prefix}n"
    stack = make_stack(pg_url, nats.url, prefix, tmp_path / "logs")
    gw = None
    try:
        await asyncio.to_thread(stack.start, timeout=120)
        gw = Gateway(stack.url("gateway"))
        designer, alice = await gw.login("designer"), await gw.login("alice")
        key = f"down-{uuid.uuid4().hex[:8]}"
        bpmn = MODEL.replace(b'"purchase-e2e"', f'"{key}"'.encode())

        nats.stop()

        async def runtime_sees_nats_down():
            assert httpx.get(f"{stack.url('runtime')}/readyz").status_code == 503

        await eventually(runtime_sees_nats_down)
        up = await gw.http.post("/api/v1/definitions", content=bpmn, headers={**designer, "Content-Type": "application/xml"})
        assert up.status_code == 201, up.text
        pub = await gw.http.post(f"/api/v1/definitions/{up.json()['id']}/publish", json={}, headers=designer)
        assert pub.status_code == 200, "publishing is a database commit; it must not need NATS"
        start = {"definition_key": key, "variables": {"budget": 1}}
        r = await gw.http.post("/api/v1/process-instances", json=start, headers=alice)
        assert r.status_code == 404, "the runtime cannot know the definition while NATS is down"

        nats = EmbeddedNats(tmp_path / "nats", port=nats.port)
        nats.start()

        async def started():
            r = await gw.http.post("/api/v1/process-instances", json=start, headers=alice)
            assert r.status_code == 201, r.text

        await eventually(started, timeout=30)
    finally:
        if gw:
            await gw.close()
        await asyncio.to_thread(stack.stop)
        nats.stop()
        await asyncio.to_thread(drop_stack_databases, pg_url, prefix)
