"""Boundary and intermediate timers as a user sees them: jobs, tasks, odd ISO values."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.runtime.timing import admin, bpmn, job_rows, later, run_at, start, view


def _reminded(key: str, timer: str, *, interrupting: bool = False) -> bytes:
    return bpmn(
        key,
        '<startEvent id="s"/><userTask id="review" camunda:candidateUsers="bob"/><endEvent id="e"/>'
        f'<boundaryEvent id="remind" attachedToRef="review" cancelActivity="{str(interrupting).lower()}">'
        f'<timerEventDefinition>{timer}</timerEventDefinition></boundaryEvent>'
        '<userTask id="chase" camunda:candidateUsers="dave"/><endEvent id="e2"/>',
        "s>review", "review>e", "remind>chase", "chase>e2",
    )


async def _tasks(runtime, instance_id: str, node: str) -> list[dict]:
    r = await runtime.client.get(f"/api/v1/tasks?instance_id={instance_id}", headers=runtime.auth("dave"))
    return [t for t in r.json()["items"] if t["node_id"] == node]


async def test_a_cycle_with_a_start_date_in_the_past_fires_only_its_remaining_repetitions(runtime):
    """`R3/<36 hours ago>/P1D` has three occurrences: 36 h ago, 12 h ago and in 12 h. A
    non-interrupting boundary armed now may fire once (in 12 h), not three more times."""
    begin = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=36)).replace(microsecond=0)
    await runtime.publish(_reminded("r3-past", f"<timeCycle>R3/{begin.isoformat()}/P1D</timeCycle>"), "r3-past")
    inst = (await start(runtime, "r3-past")).json()
    [job] = await job_rows(runtime, "timer")
    assert job["due_at"] == begin + dt.timedelta(days=2)
    await run_at(runtime, later(days=10))
    assert len(await _tasks(runtime, inst["id"], "chase")) == 1, "fired past the cycle's three occurrences"


async def test_a_boundary_cycle_every_minute_since_2020_is_armed(runtime):
    """A cycle whose start date lies far back (more than a million periods) still fires at
    its next occurrence (walking period by period, the engine gave up and armed nothing)."""
    await runtime.publish(_reminded("minutely", "<timeCycle>R/2020-01-01T00:00:00Z/PT1M</timeCycle>"), "minutely")
    inst = (await start(runtime, "minutely")).json()
    assert inst["state"] == "active"
    [job] = await job_rows(runtime, "timer")
    assert job["due_at"] - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=1)


def _waits(key: str, timer: str) -> bytes:
    return bpmn(key, '<startEvent id="s"/><intermediateCatchEvent id="wait"><timerEventDefinition>'
                f'{timer}</timerEventDefinition></intermediateCatchEvent><endEvent id="e"/>', "s>wait", "wait>e")


async def test_a_date_that_its_offset_pushes_out_of_the_calendar_is_a_refusal_not_a_crash(runtime):
    """`9999-12-31T23:00:00-05:00` is a valid ISO 8601 text that overflows in UTC: the
    runtime records it as a compile error (the compiler raised OverflowError, so the
    published event could not be stored and starts answered 404). The designer's lint
    refuses it at publication too."""
    await runtime.publish(_waits("edge-date", "<timeDate>9999-12-31T23:00:00-05:00</timeDate>"), "edge-date")
    r = await start(runtime, "edge-date")
    assert r.status_code == 422 and "timeDate" in r.text


async def test_an_expression_duration_is_checked_like_a_literal_one(runtime):
    r = await start(runtime, "expr-wait-missing")
    assert r.status_code == 404
    await runtime.publish(_waits("expr-wait", "<timeDuration>${wait}</timeDuration>"), "expr-wait")
    for value in ("-PT1H", "P99999Y", "soon", 5):
        r = await start(runtime, "expr-wait", wait=value)
        assert r.status_code == 422, (value, r.status_code, r.text)
    r = await start(runtime, "expr-wait", wait="PT0.5S")
    assert r.status_code == 201
    [job] = await job_rows(runtime, "timer")
    assert dt.timedelta(0) < job["due_at"] - dt.datetime.now(dt.UTC) <= dt.timedelta(seconds=0.5)
    await run_at(runtime, later(seconds=1))
    assert (await view(runtime, r.json()["id"]))["state"] == "completed"


async def test_an_hourly_reminder_does_not_fire_every_missed_hour_at_once_after_a_resume(runtime, monkeypatch):
    """A non-interrupting `R/PT1H` reminder on a task of an instance suspended for 60
    hours: on the resume the overdue reminder fires once and the next one is an hour
    later (Camunda 7 computes a cycle's next due date after the current time). The
    engine schedules each next one from the previous due date, all in the past: 60
    reminder tasks at once."""
    await runtime.publish(_reminded("hourly", "<timeCycle>R/PT1H</timeCycle>"), "hourly")
    inst = (await start(runtime, "hourly")).json()["id"]
    base = f"/api/v1/admin/process-instances/{inst}"
    await runtime.client.post(f"{base}/suspend", json={"reason": "weekend"}, headers=admin(runtime))
    shifted = dt.timedelta(hours=60, minutes=30)
    real_now = dt.datetime.now
    monkeypatch.setattr("services.runtime.instances.service.utcnow", lambda: real_now(dt.UTC) + shifted)
    await runtime.client.post(f"{base}/resume", json={"reason": "monday"}, headers=admin(runtime))
    await run_at(runtime, later(hours=60, minutes=31))
    assert len(await _tasks(runtime, inst, "chase")) == 1, "every missed hour fired at once"
    [job] = await job_rows(runtime, "timer")
    assert job["due_at"] > later(hours=60, minutes=30)


def test_a_duration_expression_yielding_a_negative_span_is_refused_like_a_negative_text():
    """An expression that yields a negative ``timedelta`` (``${until - since}`` with dates
    the wrong way round) is refused as ``-PT1H`` is, not armed as a timer already due."""
    from bpm_process.engine.errors import ExpressionFailed
    from bpm_process.engine.timers import DURATION, TimerDefinition
    from bpm_process.expressions import compile_value

    timer = TimerDefinition(DURATION, "${until - since}", expression=compile_value("${until - since}"))
    since, until = dt.datetime(2026, 1, 2, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(ExpressionFailed):
        timer.resolve({"since": since, "until": until}, "wait")
    assert timer.resolve({"since": until, "until": since}, "wait").duration is not None
