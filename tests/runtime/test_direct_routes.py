"""Direct routes (`bpm_common.direct`) answer exactly as the ordinary FastAPI way does.

The same calls (valid ones, and every kind of refusal) go to a runtime with direct routes
and then to one without; the answers (status, content type, body with ids and times replaced
by their order of appearance) must be the same, and the counter must show which way each
call took.
"""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import REGISTRY

from bpm_common.events.memory import MemoryBroker
from bpm_common.testing.plugin import common_settings, service_client, service_database
from services.runtime.app import definition
from services.runtime.main import create_app
from services.runtime.settings import RuntimeSettings
from tests.runtime.conftest import EXPENSE, Runtime

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_CURSOR = re.compile(r'"next_cursor":"[^"]+"')
_HASH = re.compile(r"[0-9a-f]{64}")  # history hashes cover times and ids
_SERIAL = re.compile(r'"id":\d+')  # history entry numbers: sequences are not rolled back


async def _answers(pg_url: str, run_prefix: str, token_for: Any, *, direct: bool) -> list[tuple[str, int, str, str]]:
    """The scenario's answers from a runtime with direct routes on or off (its own rolled-back
    database: the two runs write the same keys)."""
    sdb = await service_database(definition(), pg_url, run_prefix)
    async with sdb.rolled_back() as db:
        settings = RuntimeSettings(common=common_settings(pg_url, direct_routes=direct))
        async with service_client(create_app(settings, db=db, broker=MemoryBroker()), token_for) as client:
            return await _scenario(Runtime(client))


def _normalised(text: str) -> str:
    ids: dict[str, str] = {}
    text = _UUID.sub(lambda m: ids.setdefault(m.group(0), f"<id{len(ids)}>"), text)
    text = _CURSOR.sub('"next_cursor":"<cursor>"', text)
    text = _SERIAL.sub('"id":<n>', _HASH.sub("<hash>", text))
    return _TIME.sub("<time>", text)


async def _scenario(rt: Runtime) -> list[tuple[str, int, str, str]]:
    """Every call of the scenario, answered: (label, status, content type, normalised body)."""
    await rt.publish(EXPENSE.read_bytes(), "expense-reimbursement")
    for user, role in (("carol", "finance_reviewer"), ("erin", "cashier")):
        await rt.user(user, role, department="finance")
    c, alice, bob = rt.client, rt.auth("alice"), rt.auth("bob")
    answers: list[tuple[str, int, str, str]] = []

    async def call(label: str, method: str, url: str, **kw: Any) -> Any:
        r = await c.request(method, url, **kw)
        answers.append((label, r.status_code, r.headers.get("content-type", ""), _normalised(r.text)))
        return r

    start = {"definition_key": "expense-reimbursement", "variables": {"amount": 120.50}, "business_key": "EXP-1"}
    started = await call("start", "POST", "/api/v1/process-instances", json=start, headers=alice)
    instance = started.json()["id"]
    once = {**alice, "Idempotency-Key": "start-1"}
    await call("start with a key", "POST", "/api/v1/process-instances", json=start, headers=once)
    await call("start replayed", "POST", "/api/v1/process-instances", json=start, headers=once)
    for label, kw in (
        ("start without a key field", {"json": {"variables": {}}}),
        ("start with an unknown field", {"json": {**start, "colour": "red"}}),
        ("start with a long key", {"json": {**start, "definition_key": "k" * 300}}),
        ("start with broken JSON", {"content": b'{"definition_key": ', "headers": {"content-type": "application/json"}}),
        ("start with a text body", {"content": b"definition_key=x", "headers": {"content-type": "text/plain"}}),
        ("start with no body", {"headers": {"content-type": "application/json"}}),
        ("start nested too deep", {"content": b'{"variables": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
                                   "headers": {"content-type": "application/json"}}),
        ("start with invalid UTF-8", {"content": b'{"definition_key": "\xff"}', "headers": {"content-type": "application/json"}}),
        ("start of an unknown process", {"json": {**start, "definition_key": "nope"}}),
    ):
        headers = {**alice, **kw.pop("headers", {})}
        await call(label, "POST", "/api/v1/process-instances", headers=headers, **kw)
    await call("start without a token", "POST", "/api/v1/process-instances", json=start)
    await call("start with a bad token", "POST", "/api/v1/process-instances", json=start,
               headers={"Authorization": "Bearer not.a.token"})

    inbox = await call("inbox", "GET", f"/api/v1/tasks?instance_id={instance}", headers=bob)
    task = inbox.json()["items"][0]["id"]
    for label, query in (
        ("inbox of everything", ""),
        ("inbox paged", "?limit=1"),
        ("inbox with an unknown parameter", "?colour=red"),
        ("inbox of completed tasks", "?state=completed"),
        ("inbox with a bad state", "?state=bogus"),
        ("inbox with a bad limit", "?limit=0"),
        ("inbox with a bad instance", "?instance_id=not-a-uuid"),
        ("inbox with a repeated parameter", "?state=open&state=completed"),
        ("inbox of all tasks, not an administrator", "?scope=all"),
        ("inbox with a bad cursor", "?cursor=%%%"),
        ("inbox with blank values", "?definition_key=&node_id="),
        ("inbox with a blank instance", "?instance_id="),
        ("inbox with a blank limit", "?limit="),
        ("inbox with an encoded key", "?definition_key=expense%2Dreimbursement&state=open"),
    ):
        await call(label, "GET", f"/api/v1/tasks{query}", headers=bob)
    await call("inbox of all tasks, administrator", "GET", "/api/v1/tasks?scope=all", headers=rt.auth("ann", "admin"))
    await call("inbox without a token", "GET", "/api/v1/tasks")

    url = f"/api/v1/tasks/{task}/complete"
    await call("complete a bad task id", "POST", "/api/v1/tasks/not-a-uuid/complete", json={}, headers=bob)
    await call("complete an unknown task", "POST", f"/api/v1/tasks/{instance}/complete", json={}, headers=bob)
    await call("complete, not a candidate", "POST", url, json={}, headers=rt.auth("mallory"))
    await call("complete with a bad outcome", "POST", url, json={"outcome": "maybe"}, headers=bob)
    await call("complete with an unknown field", "POST", url, json={"colour": 1}, headers=bob)
    await call("complete without a token", "POST", url, json={})
    key = {**bob, "Idempotency-Key": "done-1"}
    await call("complete", "POST", url, json={"variables": {"ok": True}, "comment": "fine"}, headers=key)
    await call("complete replayed", "POST", url, json={"variables": {"ok": True}, "comment": "fine"}, headers=key)
    await call("complete again", "POST", url, json={}, headers=bob)
    await call("history", "GET", f"/api/v1/process-instances/{instance}/history", headers=alice)
    return answers


def _calls(way: str) -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "bpm_direct_route_calls":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total") and s.labels["way"] == way)
    return total


async def test_direct_routes_answer_as_the_ordinary_way(pg_url, run_prefix, token_for) -> None:
    before = {way: _calls(way) for way in ("direct", "ordinary")}
    with_direct = await _answers(pg_url, run_prefix, token_for, direct=True)
    counted = {way: _calls(way) - before[way] for way in ("direct", "ordinary")}
    without = await _answers(pg_url, run_prefix, token_for, direct=False)

    assert [a[0] for a in with_direct] == [a[0] for a in without]
    for got, expected in zip(with_direct, without, strict=True):
        assert got == expected
    statuses = {label: status for label, status, _, _ in with_direct}
    assert statuses["start"] == 201 and statuses["complete"] == 200 and statuses["complete again"] == 409
    assert statuses["start with an unknown field"] == statuses["inbox with a bad state"] == 422
    assert statuses["start without a token"] == statuses["complete without a token"] == 401
    # the valid calls and the domain's refusals went the direct way; parameters and bodies
    # that do not validate went the ordinary way (and nothing goes either way when off)
    assert counted["direct"] >= 20
    assert counted["ordinary"] >= 10
    assert _calls("direct") - before["direct"] == counted["direct"]
