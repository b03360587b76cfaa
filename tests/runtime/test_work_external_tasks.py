"""External tasks: workers (ERP, CRM, RPA bots) fetch and lock work by topic, then complete
it, report failures, throw BPMN errors or extend their lock; only the locking worker may."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from services.runtime.work.models import work_items
from tests.runtime.conftest import MODELS

FETCH = "/api/v1/external-tasks/fetch-and-lock"


def _worker(runtime) -> dict[str, str]:
    return runtime.auth("erp-bot", "worker")


async def _start(runtime, business_key: str = "INV-1", priority: int = 0, **variables: Any) -> str:
    await runtime.publish((MODELS / "work-external.bpmn").read_bytes(), "invoice-erp")
    started = await runtime.client.post(
        "/api/v1/process-instances",
        json={"definition_key": "invoice-erp", "business_key": business_key,
              "variables": {"customer": "ACME", "amount": 1200, "priority": priority, "internal": "x", **variables}},
        headers=runtime.auth("alice"),
    )
    assert started.status_code == 201, started.text
    return started.json()["id"]


async def _fetch(runtime, worker_id: str = "erp-1", max_tasks: int = 10, lock_ms: int = 60_000) -> list[dict]:
    r = await runtime.client.post(
        FETCH,
        json={"worker_id": worker_id, "max_tasks": max_tasks,
              "topics": [{"name": "erp-booking", "lock_duration_ms": lock_ms}]},
        headers=_worker(runtime),
    )
    assert r.status_code == 200, r.text
    return r.json()


async def _instance(runtime, instance_id: str) -> dict[str, Any]:
    return (await runtime.client.get(f"/api/v1/process-instances/{instance_id}",
                                     headers=runtime.auth("admin", "admin"))).json()


async def test_a_worker_fetches_locks_and_completes_a_task(runtime):
    instance_id = await _start(runtime)
    [task] = await _fetch(runtime)
    assert task["topic"] == "erp-booking" and task["instance_id"] == instance_id
    assert task["business_key"] == "INV-1" and task["node_id"] == "book" and task["worker_id"] == "erp-1"
    assert task["variables"] == {"customer": "ACME", "amount": 1200}, "only the mapped inputs"
    assert await _fetch(runtime, "erp-2") == [], "locked items are not handed out twice"

    c = runtime.client
    unknown = await c.post("/api/v1/external-tasks/0190a1b2-0000-7000-8000-000000000000/complete",
                           json={"worker_id": "erp-1"}, headers=_worker(runtime))
    assert unknown.status_code == 404
    stolen = await c.post(f"/api/v1/external-tasks/{task['id']}/complete",
                          json={"worker_id": "erp-2", "variables": {"erpId": "nope"}}, headers=_worker(runtime))
    assert stolen.status_code == 409
    done = await c.post(f"/api/v1/external-tasks/{task['id']}/complete",
                        json={"worker_id": "erp-1", "variables": {"erpId": "B-77"}}, headers=_worker(runtime))
    assert done.status_code == 200, done.text
    assert done.json()["active_nodes"] == ["send"]
    assert (await _instance(runtime, instance_id))["variables"]["erpId"] == "B-77"
    again = await c.post(f"/api/v1/external-tasks/{task['id']}/complete",
                         json={"worker_id": "erp-1"}, headers=_worker(runtime))
    assert again.status_code == 409
    listed = (await c.get("/api/v1/external-tasks?topic=erp-booking", headers=_worker(runtime))).json()
    assert [(t["id"], t["state"]) for t in listed["items"]] == [(task["id"], "completed")]


async def test_only_workers_may_fetch(runtime):
    await _start(runtime)
    body = {"worker_id": "me", "topics": [{"name": "erp-booking", "lock_duration_ms": 1000}]}
    assert (await runtime.client.post(FETCH, json=body, headers=runtime.auth("alice"))).status_code == 403
    assert (await runtime.client.post(FETCH, json=body)).status_code == 401
    bad = await runtime.client.post(FETCH, json={**body, "max_tasks": 0}, headers=_worker(runtime))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "max_tasks"


async def test_higher_priority_first_and_max_tasks(runtime):
    low = await _start(runtime, "INV-LOW", priority=1)
    high = await _start(runtime, "INV-HIGH", priority=9)
    [first] = await _fetch(runtime, max_tasks=1)
    assert first["instance_id"] == high
    [second] = await _fetch(runtime, max_tasks=5)
    assert second["instance_id"] == low


async def test_a_failure_with_retries_offers_the_task_again_later_and_without_retries_opens_an_incident(runtime):
    instance_id = await _start(runtime)
    [task] = await _fetch(runtime)
    c = runtime.client
    failed = await c.post(
        f"/api/v1/external-tasks/{task['id']}/failure",
        json={"worker_id": "erp-1", "error_message": "ERP timeout", "retries": 2, "retry_timeout_ms": 3_600_000},
        headers=_worker(runtime),
    )
    assert failed.status_code == 200, failed.text
    assert await _fetch(runtime) == [], "not before the retry timeout"
    listed = (await c.get(f"/api/v1/external-tasks?instance_id={instance_id}", headers=_worker(runtime))).json()
    assert listed["items"][0]["retries"] == 2 and listed["items"][0]["error_message"] == "ERP timeout"

    async with runtime.db.transaction() as session:  # an hour passes
        await session.execute(update(work_items).values(available_at=dt.datetime.now(dt.UTC)))
    [again] = await _fetch(runtime, "erp-2")
    assert again["retries"] == 2
    await c.post(f"/api/v1/external-tasks/{again['id']}/failure",
                 json={"worker_id": "erp-2", "error_message": "still down", "retries": 0}, headers=_worker(runtime))
    [incident] = (await c.get(f"/api/v1/incidents?instance_id={instance_id}",
                              headers=runtime.auth("admin", "admin"))).json()["items"]
    assert incident["state"] == "open" and incident["message"] == "still down"
    assert (await _instance(runtime, instance_id))["active_nodes"] == ["book"]


async def test_a_bpmn_error_goes_to_the_error_boundary_event(runtime):
    instance_id = await _start(runtime)
    [task] = await _fetch(runtime)
    thrown = await runtime.client.post(
        f"/api/v1/external-tasks/{task['id']}/bpmn-error",
        json={"worker_id": "erp-1", "error_code": "NO_CUSTOMER", "error_message": "ACME is unknown",
              "variables": {"lookedUp": True}},
        headers=_worker(runtime),
    )
    assert thrown.status_code == 200, thrown.text
    view = await _instance(runtime, instance_id)
    assert view["active_nodes"] == ["fix"]
    assert view["variables"]["bookingError"] == "ACME is unknown" and view["variables"]["lookedUp"] is True
    trail = (await runtime.client.get(f"/api/v1/process-instances/{instance_id}/history",
                                      headers=runtime.auth("admin", "admin"))).json()["items"]
    [entry] = [e for e in trail if e["action"] == "work_error_thrown"]
    assert entry["actor"] == "erp-bot" and entry["details"]["error_code"] == "NO_CUSTOMER"
    assert entry["details"]["worker_id"] == "erp-1"


async def test_extend_lock_keeps_the_task_and_an_expired_lock_frees_it(runtime):
    await _start(runtime)
    [task] = await _fetch(runtime, lock_ms=60_000)
    c = runtime.client
    wrong = await c.post(f"/api/v1/external-tasks/{task['id']}/extend-lock",
                         json={"worker_id": "erp-2", "new_duration_ms": 60_000}, headers=_worker(runtime))
    assert wrong.status_code == 409
    extended = await c.post(f"/api/v1/external-tasks/{task['id']}/extend-lock",
                            json={"worker_id": "erp-1", "new_duration_ms": 600_000}, headers=_worker(runtime))
    assert extended.status_code == 200, extended.text
    assert await _fetch(runtime, "erp-2") == [], "the extended lock still holds"
    async with runtime.db.transaction() as session:  # the worker died: its lock runs out
        await session.execute(update(work_items).values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    [taken] = await _fetch(runtime, "erp-2")
    assert taken["id"] == task["id"] and taken["worker_id"] == "erp-2"
    late = await c.post(f"/api/v1/external-tasks/{task['id']}/complete",
                        json={"worker_id": "erp-1"}, headers=_worker(runtime))
    assert late.status_code == 409


async def test_a_long_poll_without_work_answers_empty_when_its_time_is_up(runtime):
    r = await runtime.client.post(
        FETCH,
        json={"worker_id": "w", "async_response_timeout_ms": 20,
              "topics": [{"name": "nothing-here", "lock_duration_ms": 1000}]},
        headers=_worker(runtime),
    )
    assert r.status_code == 200 and r.json() == []


async def test_an_uncaught_bpmn_error_terminates_the_instance(runtime):
    instance_id = await _start(runtime)
    [task] = await _fetch(runtime)
    await runtime.client.post(f"/api/v1/external-tasks/{task['id']}/bpmn-error",
                              json={"worker_id": "erp-1", "error_code": "SOMETHING_ELSE"}, headers=_worker(runtime))
    assert (await _instance(runtime, instance_id))["state"] == "terminated"
    assert await _fetch(runtime) == []


async def _expire_locks(runtime) -> None:
    async with runtime.db.transaction() as session:
        await session.execute(update(work_items).values(locked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))


async def test_an_expired_lock_cannot_be_extended(runtime):
    await _start(runtime)
    [task] = await _fetch(runtime)
    await _expire_locks(runtime)
    late = await runtime.client.post(f"/api/v1/external-tasks/{task['id']}/extend-lock",
                                     json={"worker_id": "erp-1", "new_duration_ms": 60_000}, headers=_worker(runtime))
    assert late.status_code == 409 and "expired" in late.json()["detail"], late.text
    [again] = await _fetch(runtime)
    assert again["id"] == task["id"], "the worker fetches it again"


async def test_a_lock_belongs_to_the_account_that_fetched_it_and_the_history_names_that_account(runtime):
    instance_id = await _start(runtime)
    [task] = await _fetch(runtime, "erp-1")
    other = runtime.auth("crm-bot", "worker")
    c = runtime.client
    for action, body in [
        ("complete", {"worker_id": "erp-1", "variables": {"erpId": "forged"}}),
        ("failure", {"worker_id": "erp-1", "error_message": "x", "retries": 0}),
        ("bpmn-error", {"worker_id": "erp-1", "error_code": "REJECTED"}),
        ("extend-lock", {"worker_id": "erp-1", "new_duration_ms": 1000}),
    ]:
        stolen = await c.post(f"/api/v1/external-tasks/{task['id']}/{action}", json=body, headers=other)
        assert stolen.status_code == 409, (action, stolen.text)
    done = await c.post(f"/api/v1/external-tasks/{task['id']}/complete",
                        json={"worker_id": "erp-1", "variables": {"erpId": "B-1"}}, headers=_worker(runtime))
    assert done.status_code == 200, done.text
    trail = (await c.get(f"/api/v1/process-instances/{instance_id}/history",
                         headers=runtime.auth("admin", "admin"))).json()["items"]
    actors = {entry["actor"] for entry in trail if entry["node_id"] == "book" and entry["actor"]}
    assert actors == {"erp-bot"}, "the account, not the worker_id it chose"
    [completed] = [entry for entry in trail if entry["action"] == "work_completed"]
    assert completed["details"]["variables"] == {"erpId": "B-1"}, "what the worker set"
