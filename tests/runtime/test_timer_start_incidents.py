"""A timer start event that fires but cannot start an instance opens an incident of its
process definition (no instance), which administrators see and retry, instead of being
lost (a refused one-shot start) or retried unseen for ever (any other failure)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bpm_common import jsonutil
from bpm_common.errors import Unprocessable
from bpm_common.events.envelope import new_event
from bpm_common.events.outbox import add_event_tables
from services.runtime.database import Base
from services.runtime.definitions.handlers import on_definition_deprecated
from services.runtime.instances.models import instances
from services.runtime.instances.service import InstanceCommands
from services.runtime.jobs.incidents import PARKED
from services.runtime.jobs.worker import INCIDENT_AFTER
from tests.runtime.conftest import migrated_database
from tests.runtime.timing import admin, bpmn, job_rows, later, run_at

BEFORE = "c9e1a3b5d7f0"


def _gateway_start(key: str, timer: str, condition: str = "${false}") -> bytes:
    """A timer start followed by a gateway whose only way out is `condition`."""
    return bpmn(
        key,
        f'<startEvent id="go" name="Every morning"><timerEventDefinition>{timer}</timerEventDefinition></startEvent>'
        '<exclusiveGateway id="which"/><userTask id="work" camunda:candidateUsers="bob"/><endEvent id="end"/>',
        "go>which", f"which>work:{condition}", "work>end",
    )


async def _started(runtime, key: str) -> int:
    async with runtime.db.transaction() as session:
        return (await session.execute(
            select(func.count()).select_from(instances).where(instances.c.definition_key == key))).scalar_one()


async def _incidents(runtime, **params: Any) -> list[dict[str, Any]]:
    r = await runtime.client.get("/api/v1/incidents", params=params, headers=admin(runtime))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _retry(runtime, incident_id: str, reason: str = "the ERP is back") -> Any:
    return await runtime.client.post(f"/api/v1/incidents/{incident_id}/retry", json={"reason": reason},
                                     headers=admin(runtime))


async def _incident_events(runtime) -> list[dict[str, Any]]:
    outbox, _ = add_event_tables(Base.metadata)
    async with runtime.db.connection() as conn:
        rows = (await conn.execute(select(outbox.c.payload).order_by(outbox.c.position))).all()
    return [e for e in (jsonutil.loads(r.payload) for r in rows) if e["type"].startswith("bpm.runtime.incident.")]


def _failing_start(monkeypatch, exc: Exception) -> None:
    async def refuse(self, *args, **kwargs):
        raise exc

    monkeypatch.setattr(InstanceCommands, "start_on", refuse)


async def test_a_refused_one_shot_start_opens_an_incident_of_the_definition_for_administrators(runtime):
    definition_id = await runtime.publish(_gateway_start("morning", "<timeDuration>PT1H</timeDuration>"), "morning")
    assert await run_at(runtime, later(hours=2)) == 1
    assert await _started(runtime, "morning") == 0

    [incident] = await _incidents(runtime)
    assert incident["instance_id"] is None and incident["state"] == "open"
    assert (incident["definition_key"], incident["definition_version"], incident["definition_id"]) == (
        "morning", 1, definition_id)
    assert (incident["node_id"], incident["node_name"], incident["job_kind"]) == ("go", "Every morning", "timer_start")
    assert "timer start" in incident["message"] and "which" in incident["message"], incident["message"]
    assert await _incidents(runtime, state="open") == [incident]

    [job] = await job_rows(runtime, "timer_start")
    assert str(job["id"]) == incident["work_id"] and job["due_at"] == PARKED, "kept for the retry, not deleted"
    assert await run_at(runtime, later(hours=5)) == 0, "parked: it does not run again by itself"

    for who in (runtime.auth("alice"), runtime.auth("designer", "process_designer")):
        r = await runtime.client.get("/api/v1/incidents", headers=who)
        assert r.status_code == 403, r.text
        r = await runtime.client.post(f"/api/v1/incidents/{incident['id']}/retry", json={"reason": "x"}, headers=who)
        assert r.status_code == 403, r.text

    [event] = await _incident_events(runtime)
    assert event["type"] == "bpm.runtime.incident.created" and event["subject"] == incident["id"]
    data = event["data"]
    assert data["instance_id"] is None and data["incident_id"] == incident["id"]
    assert (data["definition_key"], data["definition_version"], data["node_id"]) == ("morning", 1, "go")
    assert data["message"] == incident["message"]


async def test_a_retry_that_is_refused_again_leaves_one_open_incident(runtime):
    await runtime.publish(_gateway_start("refused", "<timeDuration>PT1H</timeDuration>"), "refused")
    await run_at(runtime, later(hours=2))
    [first] = await _incidents(runtime)

    r = await _retry(runtime, first["id"], "try once more")
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["resolved_by"], r.json()["reason"]) == ("resolved", "admin", "try once more")
    assert (await _retry(runtime, first["id"])).status_code == 409, "resolved already"
    assert await run_at(runtime, later(seconds=1)) == 1
    assert await _started(runtime, "refused") == 0

    second, again = await _incidents(runtime)
    assert again["id"] == first["id"] and again["state"] == "resolved"
    assert second["state"] == "open" and second["work_id"] == first["work_id"] and second["instance_id"] is None
    assert [i["id"] for i in await _incidents(runtime, state="open")] == [second["id"]]
    [job] = await job_rows(runtime, "timer_start")
    assert job["due_at"] == PARKED
    kinds = [(e["type"], e["data"]["incident_id"], e["sequence"]) for e in await _incident_events(runtime)]
    assert kinds == [
        ("bpm.runtime.incident.created", first["id"], 1),
        ("bpm.runtime.incident.resolved", first["id"], 2),
        ("bpm.runtime.incident.created", second["id"], 1),
    ]


async def test_a_start_that_keeps_failing_becomes_an_incident_that_a_retry_mends(runtime, monkeypatch):
    await runtime.publish(_gateway_start("flaky", "<timeDuration>PT1H</timeDuration>", "${true}"), "flaky")
    _failing_start(monkeypatch, RuntimeError("connection reset by the database"))
    moment = later(hours=1, minutes=1)
    for attempt in range(1, INCIDENT_AFTER):
        assert await run_at(runtime, moment) == 1
        moment += dt.timedelta(minutes=10)  # past any backoff
        assert await _incidents(runtime) == [], f"an incident after {attempt} attempts"
        [job] = await job_rows(runtime, "timer_start")
        assert job["attempts"] == attempt and job["due_at"] < PARKED
    assert await run_at(runtime, moment) == 1

    [incident] = await _incidents(runtime)
    assert incident["instance_id"] is None and incident["definition_key"] == "flaky"
    assert f"failed {INCIDENT_AFTER} times" in incident["message"] and "connection reset" in incident["message"]
    [job] = await job_rows(runtime, "timer_start")
    assert (job["due_at"], job["attempts"], str(job["id"])) == (PARKED, INCIDENT_AFTER, incident["work_id"])
    assert await run_at(runtime, moment + dt.timedelta(hours=1)) == 0

    monkeypatch.undo()
    r = await _retry(runtime, incident["id"])
    assert r.status_code == 200, r.text
    assert await run_at(runtime, later(seconds=1)) == 1
    assert await _started(runtime, "flaky") == 1
    assert await job_rows(runtime, "timer_start") == []
    [resolved] = await _incidents(runtime)
    assert (resolved["state"], resolved["resolved_by"], resolved["reason"]) == ("resolved", "admin", "the ERP is back")
    assert await _incidents(runtime, state="open") == []
    resolved_event = (await _incident_events(runtime))[-1]
    assert resolved_event["type"] == "bpm.runtime.incident.resolved"
    assert resolved_event["data"]["instance_id"] is None and resolved_event["data"]["actor"] == "admin"
    assert resolved_event["data"]["reason"] == "the ERP is back"


async def test_a_cycle_parks_only_the_failed_occurrence_and_its_later_ones_still_fire(runtime, monkeypatch):
    await runtime.publish(_gateway_start("hourly", "<timeCycle>R3/PT1H</timeCycle>", "${true}"), "hourly")
    _failing_start(monkeypatch, Unprocessable("the start form does not validate"))
    assert await run_at(runtime, later(hours=1, minutes=1)) == 1
    [incident] = await _incidents(runtime)
    assert "the start form does not validate" in incident["message"]
    cycle, parked = await job_rows(runtime, "timer_start")
    assert str(parked["id"]) == incident["work_id"] and parked["due_at"] == PARKED
    assert cycle["payload"] == {"key": "hourly", "fired": 1}, "the cycle goes on to its next occurrence"
    assert later(minutes=50) < cycle["due_at"] < later(hours=2, minutes=1)

    monkeypatch.undo()
    assert await run_at(runtime, later(hours=2, minutes=2)) == 1
    assert await _started(runtime, "hourly") == 1, "the next occurrence fired"
    [cycle_now, _] = await job_rows(runtime, "timer_start")
    assert cycle_now["payload"]["fired"] == 2

    assert (await _retry(runtime, incident["id"])).status_code == 200
    assert await run_at(runtime, later(seconds=1)) == 1
    assert await _started(runtime, "hourly") == 2, "the retried occurrence started its instance"
    [left] = await job_rows(runtime, "timer_start")
    assert left["id"] == cycle_now["id"] and left["payload"]["fired"] == 2, "the retry left the cycle alone"
    assert await run_at(runtime, later(hours=3, minutes=3)) == 1
    assert await _started(runtime, "hourly") == 3
    assert await job_rows(runtime, "timer_start") == [], "R3: three occurrences, the failed one among them"


async def test_publishing_a_new_version_closes_the_replaced_versions_timer_start_incidents(runtime):
    await runtime.publish(_gateway_start("nightly", "<timeDuration>PT1H</timeDuration>"), "nightly")
    await run_at(runtime, later(hours=2))
    [incident] = await _incidents(runtime)

    await runtime.publish(_gateway_start("nightly", "<timeDuration>PT1H</timeDuration>", "${true}"), "nightly",
                          version=2)
    assert await run_at(runtime, later(seconds=1)) == 1, "the replaced version's failed start is dropped"
    [closed] = await _incidents(runtime)
    assert (closed["id"], closed["state"], closed["resolved_by"]) == (incident["id"], "resolved", None)
    assert "replaced by version 2" in closed["reason"], closed["reason"]
    assert (await _retry(runtime, incident["id"])).status_code == 409
    [job] = await job_rows(runtime, "timer_start")
    assert job["payload"] == {"key": "nightly", "fired": 0}, "only version 2's own timer start is left"
    event = (await _incident_events(runtime))[-1]
    assert event["type"] == "bpm.runtime.incident.resolved" and event["subject"] == incident["id"]
    assert (event["data"]["instance_id"], event["data"]["actor"], event["data"]["cause"]) == (
        None, None, "definition_replaced")
    assert event["data"]["definition_version"] == 1 and event["data"]["reason"] == closed["reason"]

    await run_at(runtime, later(hours=2))
    assert await _started(runtime, "nightly") == 1, "version 2 starts its instance"


async def test_deprecating_the_version_closes_its_timer_start_incidents(runtime):
    definition_id = await runtime.publish(_gateway_start("gone", "<timeDuration>PT1H</timeDuration>"), "gone")
    await run_at(runtime, later(hours=2))
    [incident] = await _incidents(runtime)
    runtime._sequence += 1
    event = new_event("bpm.designer.definition.deprecated", definition_id,
                      {"id": definition_id, "key": "gone", "version": 1}, source="designer", sequence=runtime._sequence)
    async with runtime.db.transaction() as session:
        await on_definition_deprecated(session, event)
    await run_at(runtime, later(seconds=1))
    [closed] = await _incidents(runtime)
    assert closed["id"] == incident["id"] and closed["state"] == "resolved" and closed["resolved_by"] is None
    assert "no longer live" in closed["reason"]
    assert await job_rows(runtime, "timer_start") == []


async def test_the_migration_makes_incidents_of_definitions_and_its_downgrade_drops_them(pg_url, run_prefix):
    kept, dropped, job_id, cycle_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with migrated_database(pg_url, f"{run_prefix}_definition_incidents") as db:
        engine = db.engine
        await db.to_head()
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO jobs (id, kind, definition_id, node_id, due_at, payload) VALUES"
                " (:job, 'timer_start', :d, 'go', '9999-01-01Z', '{\"key\": \"k\", \"failed_occurrence\": true}'),"
                " (:cycle, 'timer_start', :d, 'go', now(), '{\"key\": \"k\", \"fired\": 1}')"
            ), {"job": job_id, "cycle": cycle_id, "d": uuid.uuid4()})
            await conn.execute(text(
                "INSERT INTO incidents (id, instance_id, definition_id, definition_version, work_id, definition_key,"
                " node_id, state, created_at) VALUES"
                " (:kept, :instance, NULL, NULL, :job, 'k', 'n', 'open', now()),"
                " (:dropped, NULL, :d, 1, :job, 'k', 'go', 'open', now())"
            ), {"kept": kept, "dropped": dropped, "instance": uuid.uuid4(), "job": job_id, "d": uuid.uuid4()})
            with pytest.raises(Exception, match="ck_incidents_owner"):
                async with conn.begin_nested():
                    await conn.execute(text(
                        "INSERT INTO incidents (id, work_id, definition_key, node_id, state, created_at)"
                        " VALUES (gen_random_uuid(), gen_random_uuid(), 'k', 'n', 'open', now())"))
        await db.to(BEFORE, down=True)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT id FROM incidents"))).scalars().all() == [kept]
            assert (await conn.execute(text("SELECT id FROM jobs"))).scalars().all() == [cycle_id]
            nullable = (await conn.execute(text(
                "SELECT is_nullable FROM information_schema.columns"
                " WHERE table_name = 'incidents' AND column_name = 'instance_id'"))).scalar_one()
            assert nullable == "NO"
        await db.to_head()
