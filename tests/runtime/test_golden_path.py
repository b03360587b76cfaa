"""The runtime's API over real PostgreSQL: start, inbox, complete, history, events."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from bpm_common import jsonutil
from services.runtime.instances.models import history
from tests.runtime.conftest import EXPENSE
from tests.runtime.test_assignment_rules import inactive_user


async def _outbox_events(runtime) -> list[dict]:
    from bpm_common.events.outbox import add_event_tables
    from services.runtime.database import Base

    outbox, _ = add_event_tables(Base.metadata)
    async with runtime.db.connection() as conn:
        rows = (await conn.execute(select(outbox.c.payload).order_by(outbox.c.position))).all()
    return [jsonutil.loads(r.payload) for r in rows]


async def _outbox_types(runtime) -> list[str]:
    return [event["type"] for event in await _outbox_events(runtime)]


async def _inbox(runtime, user, *roles):
    r = await runtime.client.get("/api/v1/tasks", headers=runtime.auth(user, *roles))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_expense_small_amount_runs_to_completion(runtime):
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement")
    for user, role in (("carol", "finance_reviewer"), ("erin", "cashier"), ("dave", "finance_director")):
        await runtime.user(user, role, department="finance")
    c = runtime.client
    started = await c.post(
        "/api/v1/process-instances",
        json={"definition_key": "expense-reimbursement", "variables": {"amount": 120.5}, "business_key": "EXP-1"},
        headers=runtime.auth("alice"),
    )
    assert started.status_code == 201, started.text
    inst = started.json()
    assert inst["definition_key"] == "expense-reimbursement" and inst["definition_version"] == 1
    assert inst["state"] == "active"

    # the department review is offered to bob only
    assert [t["node_id"] for t in await _inbox(runtime, "bob")] == [inst["active_nodes"][0]]
    assert await _inbox(runtime, "carol") == []
    [task] = await _inbox(runtime, "bob")
    assert task["instance_id"] == inst["id"] and task["due_at"] is not None

    forbidden = await c.post(f"/api/v1/tasks/{task['id']}/complete", json={}, headers=runtime.auth("carol"))
    assert forbidden.status_code == 403
    done = await c.post(
        f"/api/v1/tasks/{task['id']}/complete", json={"comment": "ok by me"}, headers=runtime.auth("bob")
    )
    assert done.status_code == 200, done.text
    again = await c.post(f"/api/v1/tasks/{task['id']}/complete", json={}, headers=runtime.auth("bob"))
    assert again.status_code == 409

    # finance review goes to the role, found through the organisation copy (token has no roles)
    [review] = await _inbox(runtime, "carol")
    assert review["candidate_roles"] == ["finance_reviewer"]
    assert (await c.post(f"/api/v1/tasks/{review['id']}/complete", json={}, headers=runtime.auth("carol"))).status_code == 200
    # small amount: straight to the cashier, no director approval
    assert await _inbox(runtime, "dave") == []
    [pay] = await _inbox(runtime, "erin")
    r = await c.post(f"/api/v1/tasks/{pay['id']}/complete", json={"variables": {"paid": True}}, headers=runtime.auth("erin"))
    assert r.json()["instance_state"] == "completed"

    view = (await c.get(f"/api/v1/process-instances/{inst['id']}", headers=runtime.auth("alice"))).json()
    assert view["state"] == "completed" and view["active_nodes"] == []
    assert view["variables"]["amount"] == 120.5 and view["variables"]["paid"] is True
    assert view["variables"]["initiator"] == "alice"

    hist = (await c.get(f"/api/v1/process-instances/{inst['id']}/history", headers=runtime.auth("alice"))).json()["items"]
    actions = [(h["action"], h["actor"]) for h in hist if h["action"] in ("instance_started", "task_completed", "instance_completed")]
    assert actions == [
        ("instance_started", "alice"), ("task_completed", "bob"), ("task_completed", "carol"),
        ("task_completed", "erin"), ("instance_completed", None),
    ]
    assert [h["at"] for h in hist] == sorted(h["at"] for h in hist)
    assert next(h for h in hist if h["actor"] == "bob")["comment"] == "ok by me"
    verified = (await c.get(f"/api/v1/process-instances/{inst['id']}/history/verify", headers=runtime.auth("alice"))).json()
    assert verified["valid"] is True and verified["entries"] == len(hist)

    types = await _outbox_types(runtime)
    assert types.count("bpm.runtime.task.created") == 3 and types.count("bpm.runtime.task.completed") == 3
    assert types[0] == "bpm.runtime.instance.started" and types[-1] == "bpm.runtime.instance.completed"


async def test_large_amount_goes_through_director_and_decimals_stay_exact(runtime):
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement")
    await runtime.user("dave", "finance_director")
    c = runtime.client
    started = await c.post(
        "/api/v1/process-instances",
        content=b'{"definition_key": "expense-reimbursement", "variables": {"amount": 5000.10}}',
        headers={**runtime.auth("alice"), "content-type": "application/json"},
    )
    inst = started.json()
    for user, role in (("bob", None), ("carol", "finance_reviewer")):
        [t] = await _inbox(runtime, user, *([role] if role else []))
        assert (await c.post(f"/api/v1/tasks/{t['id']}/complete", json={}, headers=runtime.auth(user, *([role] if role else [])))).status_code == 200
    [director] = await _inbox(runtime, "dave")
    assert director["candidate_roles"] == ["finance_director"]
    view = await c.get(f"/api/v1/process-instances/{inst['id']}", headers=runtime.auth("alice"))
    assert b'"amount":5000.1' in view.content
    assert jsonutil.loads(view.content)["variables"]["amount"] == Decimal("5000.10")


async def test_history_tampering_is_detected(runtime):
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement")
    c = runtime.client
    inst = (await c.post("/api/v1/process-instances", json={"definition_key": "expense-reimbursement", "variables": {"amount": 1}}, headers=runtime.auth("alice"))).json()
    [t] = await _inbox(runtime, "bob")
    await c.post(f"/api/v1/tasks/{t['id']}/complete", json={"comment": "approved"}, headers=runtime.auth("bob"))
    async with runtime.db.transaction() as session:
        await session.execute(
            history.update().where(history.c.instance_id == inst["id"], history.c.action == "task_completed").values(comment="rejected")
        )
    verified = (await c.get(f"/api/v1/process-instances/{inst['id']}/history/verify", headers=runtime.auth("admin", "admin"))).json()
    assert verified["valid"] is False


async def test_refusals(runtime):
    c = runtime.client
    assert (await c.post("/api/v1/process-instances", json={"definition_key": "x"})).status_code == 401
    missing = await c.post("/api/v1/process-instances", json={"definition_key": "nope"}, headers=runtime.auth("alice"))
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    bad = await c.post("/api/v1/process-instances", json={"definition_key": "", "variables": []}, headers=runtime.auth("alice"))
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"definition_key", "variables"}
    unknown = await c.post("/api/v1/tasks/00000000-0000-0000-0000-000000000000/complete", json={}, headers=runtime.auth("alice"))
    assert unknown.status_code == 404
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement")
    inst = (await c.post("/api/v1/process-instances", json={"definition_key": "expense-reimbursement", "variables": {"amount": 1}}, headers=runtime.auth("alice"))).json()
    # a stranger cannot read the instance
    assert (await c.get(f"/api/v1/process-instances/{inst['id']}", headers=runtime.auth("mallory"))).status_code == 404
    assert (await c.get(f"/api/v1/process-instances/{inst['id']}", headers=runtime.auth("bob"))).status_code == 200


async def test_idempotent_start(runtime):
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement")
    c = runtime.client
    headers = {**runtime.auth("alice"), "Idempotency-Key": "req-1"}
    body = {"definition_key": "expense-reimbursement", "variables": {"amount": 3}}
    first = await c.post("/api/v1/process-instances", json=body, headers=headers)
    second = await c.post("/api/v1/process-instances", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    listed = (await c.get("/api/v1/process-instances?started_by_me=true", headers=runtime.auth("alice"))).json()
    assert len(listed["items"]) == 1
    other = await c.post("/api/v1/process-instances", json={**body, "variables": {"amount": 4}}, headers=headers)
    assert other.status_code == 422, "the key sent again with another request is refused, not answered as the first"
    assert [e["field"] for e in other.json()["errors"]] == ["Idempotency-Key"]
    listed = (await c.get("/api/v1/process-instances?started_by_me=true", headers=runtime.auth("alice"))).json()
    assert len(listed["items"]) == 1


async def test_start_reads_the_callers_organisation_record(runtime):
    """A start reads the versions and the caller's organisation copy together: a role the
    copy gives (not the token) opens the trial version, the copy's department goes into
    `instance.started`, and an inactive user's copied roles count for nothing."""
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement", version=1)
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement", version=2, status="trial", trial_roles=["pilot"])
    await runtime.user("olga", "pilot", department="ops")
    await inactive_user(runtime, "ivan", "pilot", department="ops")
    c = runtime.client
    body = {"definition_key": "expense-reimbursement", "variables": {"amount": 3}}
    olga = await c.post("/api/v1/process-instances", json=body, headers=runtime.auth("olga"))
    ivan = await c.post("/api/v1/process-instances", json=body, headers=runtime.auth("ivan"))
    stranger = await c.post("/api/v1/process-instances", json=body, headers=runtime.auth("nobody-known"))
    assert olga.status_code == ivan.status_code == stranger.status_code == 201, (olga.text, ivan.text, stranger.text)
    assert [r.json()["definition_version"] for r in (olga, ivan, stranger)] == [2, 1, 1]
    started = {
        e["data"]["initiator"]: e["data"]["initiator_department"]
        for e in await _outbox_events(runtime)
        if e["type"] == "bpm.runtime.instance.started"
    }
    assert started == {"olga": "ops", "ivan": "ops", "nobody-known": None}

    missing = await c.post(
        "/api/v1/process-instances", json={**body, "definition_key": "no-such-process"}, headers=runtime.auth("olga")
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "no-such-process" in missing.json()["detail"]


async def test_trial_version_only_for_trial_roles(runtime):
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement", version=1)
    await runtime.publish(EXPENSE.read_bytes(), "expense-reimbursement", version=2, status="trial", trial_roles=["pilot"])
    c = runtime.client
    body = {"definition_key": "expense-reimbursement", "variables": {"amount": 3}}
    plain = (await c.post("/api/v1/process-instances", json=body, headers=runtime.auth("alice"))).json()
    pilot = (await c.post("/api/v1/process-instances", json=body, headers=runtime.auth("paul", "pilot"))).json()
    assert plain["definition_version"] == 1 and pilot["definition_version"] == 2
