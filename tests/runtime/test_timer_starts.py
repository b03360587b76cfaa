"""Timer start events as the runtime schedules them when definitions are published."""

from __future__ import annotations

import base64
import datetime as dt
import gzip

from sqlalchemy import func, select

from bpm_common.events.envelope import new_event
from services.runtime.definitions.handlers import on_definition_published
from services.runtime.instances.models import instances
from tests.runtime.timing import bpmn, job_rows, later, run_at


def _timer_start(key: str, timer: str) -> bytes:
    return bpmn(key, f'<startEvent id="go"><timerEventDefinition>{timer}</timerEventDefinition></startEvent>'
                '<userTask id="work" camunda:candidateUsers="bob"/><endEvent id="end"/>', "go>work", "work>end")


async def _started(runtime, key: str) -> int:
    async with runtime.db.transaction() as session:
        return (await session.execute(
            select(func.count()).select_from(instances).where(instances.c.definition_key == key))).scalar_one()


async def test_a_one_shot_timer_start_fires_once_even_when_another_version_is_published_later(runtime):
    """A timeDuration start fires once per deployment. Publishing a trial version of the
    key (which does not replace the live one) must not schedule the live version's
    one-shot timer again (Camunda: a timer start fires once per deployed version)."""
    await runtime.publish(_timer_start("once", "<timeDuration>PT1H</timeDuration>"), "once")
    assert await run_at(runtime, later(hours=2)) == 1
    assert await _started(runtime, "once") == 1
    assert await job_rows(runtime, "timer_start") == []

    await runtime.publish(_timer_start("once", "<timeDuration>PT1H</timeDuration>"), "once",
                          version=2, status="trial", trial_roles=["tester"])
    await run_at(runtime, later(hours=4))
    assert await _started(runtime, "once") == 1, "the live version's one-shot timer start fired a second time"


async def test_an_exhausted_cycle_start_does_not_start_again_when_a_trial_version_is_published(runtime):
    await runtime.publish(_timer_start("twice", "<timeCycle>R2/PT1H</timeCycle>"), "twice")
    assert await run_at(runtime, later(hours=1, minutes=1)) == 1
    assert await run_at(runtime, later(hours=2, minutes=2)) == 1
    assert await job_rows(runtime, "timer_start") == [] and await _started(runtime, "twice") == 2
    await runtime.publish(_timer_start("twice", "<timeCycle>R2/PT1H</timeCycle>"), "twice",
                          version=2, status="trial", trial_roles=["tester"])
    await run_at(runtime, later(hours=5))
    assert await _started(runtime, "twice") == 2, "R2 started more than two instances"


async def test_a_cycle_start_with_a_past_start_date_and_a_short_period_is_scheduled(runtime):
    """`R/2020-01-01T00:00:00Z/PT1M`: every minute since 2020. The next occurrence is the
    next whole minute (walking period by period, the runtime gave up after a million steps)."""
    await runtime.publish(_timer_start("minutely", "<timeCycle>R/2020-01-01T00:00:00Z/PT1M</timeCycle>"),
                          "minutely")
    [job] = await job_rows(runtime, "timer_start")
    now = dt.datetime.now(dt.UTC)
    assert dt.timedelta(0) < job["due_at"] - now <= dt.timedelta(minutes=1)
    assert job["due_at"].second == 0 and job["due_at"].microsecond == 0


async def test_a_published_event_delivered_again_does_not_schedule_a_fired_timer_start_again(runtime):
    """The inbox drops a redelivered event; an older or repeated event that gets through
    (a replay of the stream) leaves the stored definition and its timer starts as they are."""
    await runtime.publish(_timer_start("replayed", "<timeDuration>PT1H</timeDuration>"), "replayed")
    assert await run_at(runtime, later(hours=2)) == 1
    async with runtime.db.transaction() as session:
        [definition_id] = (await session.execute(
            select(instances.c.definition_id).where(instances.c.definition_key == "replayed"))).scalars().all()
    event = new_event("bpm.designer.definition.published", str(definition_id), {
        "id": str(definition_id), "key": "replayed", "version": 1, "name": "replayed", "status": "published",
        "trial_roles": [], "published_at": dt.datetime.now(dt.UTC).isoformat(), "published_by": "designer",
        "bpmn_gzip_b64": base64.b64encode(gzip.compress(
            _timer_start("replayed", "<timeDuration>PT1H</timeDuration>"))).decode(),
    }, source="designer", sequence=runtime._sequence)
    async with runtime.db.transaction() as session:
        await on_definition_published(session, event)
    assert await job_rows(runtime, "timer_start") == []
    await run_at(runtime, later(hours=4))
    assert await _started(runtime, "replayed") == 1


async def test_a_time_date_already_past_when_published_fires_once_at_once(runtime):
    await runtime.publish(_timer_start("late-date", "<timeDate>2020-01-01T09:00:00Z</timeDate>"), "late-date")
    [job] = await job_rows(runtime, "timer_start")
    assert job["due_at"] <= dt.datetime.now(dt.UTC)
    assert await run_at(runtime, later(seconds=1)) == 1
    assert await _started(runtime, "late-date") == 1
    await runtime.publish(_timer_start("late-date", "<timeDate>2020-01-01T09:00:00Z</timeDate>"), "late-date",
                          version=2, status="trial", trial_roles=["tester"])
    await run_at(runtime, later(hours=1))
    assert await _started(runtime, "late-date") == 1, "once: another publication of the key does not fire it again"


async def test_publishing_the_same_version_again_is_a_new_publication(runtime):
    """A rollback (the designer publishes an older version live again) schedules that
    version's timer starts again, as a redeployment does in Camunda: a past date fires
    once more."""
    definition_id = await runtime.publish(_timer_start("rb", "<timeDate>2020-01-01T09:00:00Z</timeDate>"), "rb")
    await run_at(runtime, later(seconds=1))
    assert await _started(runtime, "rb") == 1
    event = new_event("bpm.designer.definition.published", definition_id, {
        "id": definition_id, "key": "rb", "version": 1, "name": "rb", "status": "published",
        "trial_roles": [], "published_at": dt.datetime.now(dt.UTC).isoformat(), "published_by": "designer",
        "bpmn_gzip_b64": base64.b64encode(gzip.compress(_timer_start("rb", "<timeDate>2020-01-01T09:00:00Z</timeDate>"))).decode(),
    }, source="designer", sequence=runtime._sequence + 1)
    async with runtime.db.transaction() as session:
        await on_definition_published(session, event)
    await run_at(runtime, later(seconds=2))
    assert await _started(runtime, "rb") == 2
