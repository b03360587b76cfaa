"""The HTTP connector against a real local HTTP server: response mapping, retries with
backoff, timeouts, incidents retried by an administrator, leases of crashed replicas."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import select

from bpm_common import jsonutil
from bpm_stack.embedded import free_port
from services.runtime.instances.models import history
from services.runtime.settings import RuntimeSettings
from services.runtime.work.connector import HttpConnector, denied_networks, new_client
from services.runtime.work.models import work_items
from tests.runtime.conftest import MODELS

LATER = dt.timedelta(days=1)


@dataclass
class Server:
    """A small HTTP service standing in for an ERP: it records what it received."""

    base: str
    received: list[dict[str, Any]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    calls: dict[str, int] = field(default_factory=dict)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server() -> AsyncIterator[Server]:
    port = free_port()
    state = Server(f"http://127.0.0.1:{port}")

    async def charge(request: web.Request) -> web.Response:
        body = await request.json()
        state.received.append({"path": request.path, "auth": request.headers.get("Authorization"), "body": body})
        return web.json_response({"id": f"ch_{request.match_info['order']}", "amount": body["amount"]},
                                 status=201, headers={"X-Trace": "t-1"})

    async def flaky(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        state.calls[key] = state.calls.get(key, 0) + 1
        if state.calls[key] == 1:
            return web.Response(status=500, text="database is down")
        return web.json_response({"id": f"ok_{key}"})

    async def switch(request: web.Request) -> web.Response:
        if request.match_info["key"] in state.failing:
            return web.Response(status=503, text="maintenance")
        return web.json_response({"id": "back"})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"id": "late"})

    async def to_file(request: web.Request) -> web.Response:
        raise web.HTTPFound("file:///etc/passwd")

    async def to_metadata(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/iam/security-credentials/")

    async def echo(request: web.Request) -> web.Response:
        state.received.append({"path": request.path, "content_type": request.headers.get("Content-Type"),
                               "raw": await request.read()})
        return web.json_response({"id": "echoed"})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (600 * 1024), content_type="text/plain")

    app = web.Application()
    app.router.add_post("/charge/{order}", charge)
    app.router.add_post("/flaky/{key}", flaky)
    app.router.add_post("/switch/{key}", switch)
    app.router.add_post("/slow", slow)
    app.router.add_post("/to-file", to_file)
    app.router.add_post("/big", big)
    app.router.add_post("/echo", echo)
    app.router.add_post("/to-metadata", to_metadata)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield state
    await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def connector(runtime) -> AsyncIterator[HttpConnector]:
    connector = HttpConnector(runtime.client.app.state.ctx)
    yield connector
    await connector.aclose()


async def _start(runtime, url: str, **variables: Any) -> str:
    await runtime.publish((MODELS / "work-http.bpmn").read_bytes(), "http-order")
    started = await runtime.client.post(
        "/api/v1/process-instances",
        json={"definition_key": "http-order",
              "variables": {"url": url, "token": "s3cret-token", "order": {"amount": 42.5}, **variables}},
        headers=runtime.auth("alice"),
    )
    assert started.status_code == 201, started.text
    assert started.json()["active_nodes"] == ["charge"]
    return started.json()["id"]


async def _instance(runtime, instance_id: str) -> dict[str, Any]:
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}", headers=runtime.auth("admin", "admin"))
    assert r.status_code == 200, r.text
    return r.json()


async def _item(runtime) -> dict[str, Any]:
    async with runtime.db.transaction() as session:
        return dict((await session.execute(select(work_items))).mappings().one())


def _later() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + LATER


async def test_a_successful_call_maps_the_response_and_moves_on(runtime, server, connector):
    instance_id = await _start(runtime, f"{server.base}/charge/O-7")
    assert await connector.run_due() == ["completed"]
    assert server.received[-1] == {
        "path": "/charge/O-7", "auth": "Bearer s3cret-token", "body": {"amount": 42.5}
    }
    view = await _instance(runtime, instance_id)
    assert view["active_nodes"] == ["ship"]
    variables = view["variables"]
    assert variables["chargeId"] == "ch_O-7" and variables["chargeStatus"] == 201
    assert variables["chargeResponse"]["body"] == {"id": "ch_O-7", "amount": 42.5}
    assert variables["chargeResponse"]["headers"]["x-trace"] == "t-1"
    assert (await _item(runtime))["state"] == "completed"
    async with runtime.db.transaction() as session:
        trail = jsonutil.dumps((await session.execute(select(history.c.details))).scalars().all())
    assert "s3cret-token" not in trail, "request headers never reach the history"


JSON_BODY = ('{"name": "${name}", "note": "for ${name}", "amount": ${amount}, "exact": ${exact},'
             ' "order": ${order}, "none": ${none}}')


async def test_a_json_body_template_places_each_value_as_json_whatever_it_holds(runtime, server, connector):
    model = (MODELS / "work-http.bpmn").read_bytes().replace(b"http-order", b"http-json-body").replace(
        b"<bpm:body>=order</bpm:body>", f"<bpm:body>{JSON_BODY}</bpm:body>".encode())
    await runtime.publish(model, "http-json-body")
    name = 'x", "admin": true, "y": "O\\"Brien\n\u4f1a'
    variables = {"url": f"{server.base}/echo", "token": "t", "name": name, "amount": 5, "exact": "EXACT",
                 "order": {"lines": [{"sku": 'A"1', "qty": 2}], "rush": True}, "none": None}
    start = jsonutil.dumps({"definition_key": "http-json-body", "variables": variables})
    started = await runtime.client.post(  # a decimal that no float holds, as a JSON number
        "/api/v1/process-instances", content=start.replace('"EXACT"', "0.1000000000000000055511151231257827"),
        headers={**runtime.auth("alice"), "Content-Type": "application/json"},
    )
    assert started.status_code == 201, started.text
    assert await connector.run_due() == ["completed"]
    sent = server.received[-1]
    assert sent["path"] == "/echo" and sent["content_type"] == "application/json"
    assert jsonutil.loads(sent["raw"]) == {
        "name": name, "note": f"for {name}", "amount": 5, "exact": Decimal("0.1000000000000000055511151231257827"),
        "order": {"lines": [{"sku": 'A"1', "qty": 2}], "rush": True}, "none": None,
    }
    view = await _instance(runtime, started.json()["id"])
    assert view["active_nodes"] == ["ship"] and view["variables"]["chargeId"] == "echoed"


async def test_a_server_error_is_retried_after_the_backoff(runtime, server, connector):
    instance_id = await _start(runtime, f"{server.base}/flaky/a")
    assert await connector.run_due() == ["retrying"]
    item = await _item(runtime)
    assert item["state"] == "open" and item["retries_left"] == 1
    assert "HTTP 500" in item["last_error"]
    assert await connector.run_due() == [], "not before the backoff has passed"
    assert await connector.run_due(_later()) == ["completed"]
    view = await _instance(runtime, instance_id)
    assert view["active_nodes"] == ["ship"] and view["variables"]["chargeId"] == "ok_a"


async def test_a_call_that_takes_too_long_times_out(runtime, server, connector):
    await _start(runtime, f"{server.base}/slow")
    assert await connector.run_due() == ["retrying"]
    assert "timed out after 0.3 s" in (await _item(runtime))["last_error"]


async def test_exhausted_retries_open_an_incident_that_an_administrator_retries(runtime, server, connector):
    server.failing.add("erp")
    instance_id = await _start(runtime, f"{server.base}/switch/erp")
    assert await connector.run_due(_later()) == ["retrying", "incident"]
    assert (await _item(runtime))["state"] == "incident"
    c = runtime.client
    admin = runtime.auth("admin", "admin")
    assert (await c.get("/api/v1/incidents", headers=runtime.auth("alice"))).status_code == 403
    [incident] = (await c.get(f"/api/v1/incidents?instance_id={instance_id}&state=open", headers=admin)).json()["items"]
    assert incident["node_id"] == "charge" and "HTTP 503" in incident["message"]

    blank = await c.post(f"/api/v1/incidents/{incident['id']}/retry", json={"reason": "   "}, headers=admin)
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "reason", blank.text

    server.failing.discard("erp")
    retried = await c.post(f"/api/v1/incidents/{incident['id']}/retry",
                           json={"retries": 1, "reason": "ERP maintenance is over"}, headers=admin)
    assert retried.status_code == 200, retried.text
    assert retried.json()["state"] == "resolved" and retried.json()["resolved_by"] == "admin"
    again = await c.post(f"/api/v1/incidents/{incident['id']}/retry", json={"reason": "twice"}, headers=admin)
    assert again.status_code == 409
    assert await connector.run_due() == ["completed"]
    assert (await _instance(runtime, instance_id))["active_nodes"] == ["ship"]

    trail = (await c.get(f"/api/v1/process-instances/{instance_id}/history", headers=admin)).json()["items"]
    [resolved] = [e for e in trail if e["action"] == "incident_resolved"]
    assert resolved["actor"] == "admin" and resolved["comment"] == "ERP maintenance is over"
    types = [e["type"] for e in await _outbox(runtime)]
    assert "bpm.runtime.incident.created" in types and "bpm.runtime.incident.resolved" in types


async def test_a_lease_left_by_a_crashed_replica_runs_out_and_the_item_is_taken_again(runtime, server, connector):
    instance_id = await _start(runtime, f"{server.base}/charge/O-8")
    crashed = HttpConnector(runtime.client.app.state.ctx)
    taken = await crashed.take()
    assert taken is not None and (await _item(runtime))["state"] == "locked"
    assert await connector.run_due() == [], "the lease still holds"
    assert await connector.run_due(_later()) == ["completed"]
    assert (await _instance(runtime, instance_id))["active_nodes"] == ["ship"]
    assert await crashed.report(taken, await crashed.perform(taken)) == "dropped", "the lost lease reports nothing"
    assert (await _item(runtime))["attempts"] == 2


async def test_only_http_urls_are_called_and_answers_are_bounded(runtime, server, connector):
    await _start(runtime, "file:///etc/passwd")
    assert await connector.run_due() == ["incident"], "retrying a forbidden URL cannot help"
    assert "only http and https" in (await _item(runtime))["last_error"]


async def test_a_redirect_to_another_scheme_is_refused(runtime, server, connector):
    await _start(runtime, f"{server.base}/to-file")
    assert await connector.run_due() == ["incident"]
    assert "redirect" in (await _item(runtime))["last_error"]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://0.0.0.0:8002/api/v1/process-instances",
    ],
)
async def test_a_cloud_metadata_service_or_an_unroutable_address_is_never_called(runtime, connector, url):
    await _start(runtime, url)
    assert await connector.run_due() == ["incident"], "retrying cannot help"
    assert "may not call" in (await _item(runtime))["last_error"]


async def test_a_redirect_into_a_denied_network_is_refused(runtime, server, connector):
    await _start(runtime, f"{server.base}/to-metadata")
    assert await connector.run_due() == ["incident"]
    assert "169.254.169.254" in (await _item(runtime))["last_error"]


async def test_denied_networks_are_checked_on_what_a_name_resolves_to(runtime, server):
    ctx = runtime.client.app.state.ctx
    closed = HttpConnector(ctx, client=new_client(denied_networks(["127.0.0.0/8", "::1/128"])))
    try:
        before = len(server.received)
        await _start(runtime, server.base.replace("127.0.0.1", "localhost") + "/charge/O-9")
        assert await closed.run_due() == ["incident"]
        assert "localhost" in (await _item(runtime))["last_error"]
        assert len(server.received) == before, "nothing reached the server"
    finally:
        await closed.aclose()


async def test_a_name_is_resolved_once_and_the_connection_goes_to_the_address_checked(runtime, server):
    """DNS rebinding: a name that answers an allowed address to one lookup and a denied
    one to the next. The connection is made to the address that was checked; here the
    second answer would be the denied one, and nothing asks for it."""
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])
    asked: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    ctx = runtime.client.app.state.ctx
    pinned = HttpConnector(ctx, client=new_client(denied_networks(["127.0.0.2/32"]), resolver=rebinding))
    try:
        before = len(server.received)
        await _start(runtime, server.base.replace("127.0.0.1", "erp.rebind.test") + "/charge/O-10")
        assert await pinned.run_due() == ["completed"]
        assert asked == ["erp.rebind.test"], "one lookup: the address checked is the address called"
        assert len(server.received) == before + 1
    finally:
        await pinned.aclose()


def test_a_denied_network_that_is_not_one_is_refused_at_start():
    with pytest.raises(ValidationError, match="http_denied_networks"):
        RuntimeSettings(http_denied_networks=["10.0.0.0/8", "intranet"])


async def test_a_response_above_the_limit_is_refused(runtime, server, connector):
    await _start(runtime, f"{server.base}/big")
    assert await connector.run_due() == ["incident"]
    assert "more than" in (await _item(runtime))["last_error"]


async def _outbox(runtime) -> list[dict[str, Any]]:
    from bpm_common.events.outbox import add_event_tables
    from services.runtime.database import Base

    outbox, _ = add_event_tables(Base.metadata)
    async with runtime.db.connection() as conn:
        rows = (await conn.execute(select(outbox.c.payload).order_by(outbox.c.position))).all()
    return [jsonutil.loads(r.payload) for r in rows]
