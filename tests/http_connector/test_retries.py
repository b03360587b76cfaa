"""Retries with backoff, incidents an administrator retries, an instance suspended or
terminated while its call is in flight, and two replicas."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from sqlalchemy import select

from services.runtime.instances.models import history
from services.runtime.work.connector import HttpConnector
from tests.http_connector.conftest import instance, item, later, start

ADMIN = ("admin", "admin")
HTTP = """<bpm:http method="POST" url="${url}" timeout="PT2S" retries="3" retryBackoff="PT10S"
  resultVariable="res"/>"""


def counting(server, name: str, statuses: list[int]) -> None:
    """`/r/<name>` answers the given statuses in turn, then 200."""
    async def answer(request: web.Request) -> web.Response:
        n = len(server.hits(name))
        status = statuses[n - 1] if n <= len(statuses) else 200
        return web.json_response({"n": n}, status=status)

    server.routes[name] = answer


async def _admin(runtime, path: str, body: dict) -> dict:
    r = await runtime.client.post(path, json=body, headers=runtime.auth(*ADMIN))
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_backoff_doubles_with_every_attempt(runtime, server, connector):
    counting(server, "backoff", [500, 500, 500])
    await start(runtime, "http-backoff", HTTP, url=server.url("backoff"))
    waits = []
    for when in (None, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=15)):
        before = dt.datetime.now(dt.UTC)
        assert await connector.run_due(when) == ["retrying"]
        waits.append(round(((await item(runtime))["available_at"] - before).total_seconds() / 10))
    assert waits == [1, 2], "PT10S, then PT20S"
    assert await connector.run_due(later() + dt.timedelta(days=1)) == ["incident"]


async def test_an_incident_retry_resets_the_retries_and_calls_once(runtime, server, connector):
    counting(server, "incident", [503, 503, 503, 503])
    instance_id = await start(runtime, "http-incident", HTTP, url=server.url("incident"))
    assert await connector.run_due(later()) == ["retrying", "retrying", "incident"]
    admin = runtime.auth(*ADMIN)
    [incident] = (await runtime.client.get(f"/api/v1/incidents?instance_id={instance_id}&state=open",
                                           headers=admin)).json()["items"]
    await _admin(runtime, f"/api/v1/incidents/{incident['id']}/retry", {"retries": 2, "reason": "try again"})
    row = await item(runtime)
    assert row["state"] == "open" and row["retries_left"] == 2 and row["attempts"] == 0
    assert await connector.run_due(later()) == ["retrying", "completed"]
    assert len(server.hits("incident")) == 5, "three before the incident, two after: none twice"
    view = await instance(runtime, instance_id)
    assert view["active_nodes"] == ["after"] and view["variables"]["res"]["body"] == {"n": 5}


async def test_an_incident_retry_sends_the_request_again_from_the_edited_variables(runtime, server, connector):
    counting(server, "fixed", [])
    instance_id = await start(runtime, "http-edited", HTTP, url="http://127.0.0.1:1/nowhere")
    assert await connector.run_due(later()) == ["retrying", "retrying", "incident"]
    admin = runtime.auth(*ADMIN)
    r = await runtime.client.patch(f"/api/v1/admin/process-instances/{instance_id}/variables",
                                   json={"variables": {"url": server.url("fixed")}, "reason": "right URL"},
                                   headers=admin)
    assert r.status_code == 200, r.text
    [incident] = (await runtime.client.get(f"/api/v1/incidents?instance_id={instance_id}&state=open",
                                           headers=admin)).json()["items"]
    await _admin(runtime, f"/api/v1/incidents/{incident['id']}/retry", {"reason": "URL fixed"})
    assert await connector.run_due() == ["completed"]
    assert len(server.hits("fixed")) == 1


async def test_a_call_in_flight_when_the_instance_is_suspended_is_not_made_again(runtime, server, connector):
    counting(server, "suspend", [])
    instance_id = await start(runtime, "http-suspend", HTTP, url=server.url("suspend"))
    taken = await connector.take()
    assert taken is not None
    outcome = await connector.perform(taken)
    await _admin(runtime, f"/api/v1/admin/process-instances/{instance_id}/suspend", {"reason": "maintenance"})
    assert await connector.report(taken, outcome) == "released"
    assert await connector.run_due(later()) == [], "nothing runs while suspended"
    await _admin(runtime, f"/api/v1/admin/process-instances/{instance_id}/resume", {"reason": "maintenance"})
    assert await connector.run_due() == ["completed"], "the resume makes the kept answer due at once"
    assert len(server.hits("suspend")) == 1, "the POST was made once; its answer was kept"
    view = await instance(runtime, instance_id)
    assert view["active_nodes"] == ["after"] and view["variables"]["res"]["body"] == {"n": 1}


async def test_a_call_in_flight_when_the_instance_is_terminated_is_dropped(runtime, server, connector):
    counting(server, "terminate", [])
    instance_id = await start(runtime, "http-terminate", HTTP, url=server.url("terminate"))
    taken = await connector.take()
    assert taken is not None
    outcome = await connector.perform(taken)
    await _admin(runtime, f"/api/v1/admin/process-instances/{instance_id}/terminate", {"reason": "maintenance"})
    assert await connector.report(taken, outcome) == "dropped"
    assert (await item(runtime))["state"] == "cancelled"
    assert await connector.run_due(later()) == []


async def test_two_replicas_never_take_the_same_item(runtime, server, connector):
    counting(server, "replicas", [])
    await start(runtime, "http-replicas", HTTP, url=server.url("replicas"))
    other = HttpConnector(runtime.client.app.state.ctx)
    try:
        first = await connector.take()
        assert first is not None
        assert await other.take() is None
        assert await other.take(later()) is not None, "a lease that ran out is anyone's"
        assert await connector.report(first, await connector.perform(first)) == "dropped"
    finally:
        await other.aclose()


async def test_history_of_a_retried_then_completed_call(runtime, server, connector):
    counting(server, "trail", [500])
    instance_id = await start(runtime, "http-trail", HTTP, url=server.url("trail"))
    assert await connector.run_due(later()) == ["retrying", "completed"]
    async with runtime.db.transaction() as session:
        rows = (await session.execute(
            select(history.c.action, history.c.details).where(history.c.instance_id == instance_id)
            .order_by(history.c.id)
        )).all()
    actions = [r.action for r in rows if r.action.startswith("work_")]
    assert actions == ["work_created", "work_failed", "work_completed"], actions
    [failed] = [r.details for r in rows if r.action == "work_failed"]
    assert "HTTP 500" in failed["error"] and failed["retries_left"] == 2
