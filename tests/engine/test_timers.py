"""Timers: intermediate catch, boundary timers (interrupting, non-interrupting,
cycles), timer start events and next_fire, expressions, and the job records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bpm_process.engine import JobNotFound, TimerDefinition, next_fire
from bpm_process.engine.timers import parse_timer_value

from .support import NOW, Instance, flows, model, trace


def _wait(definition: str) -> str:
    return (f'<intermediateCatchEvent id="wait"><timerEventDefinition>{definition}'
            "</timerEventDefinition></intermediateCatchEvent>")


def test_intermediate_timer_waits_for_its_job_and_goes_on_when_it_fires():
    graph = model('<startEvent id="s"/>' + _wait("<timeDuration>PT2H</timeDuration>")
                  + '<userTask id="t"/><endEvent id="e"/>' + flows("s>wait", "wait>t", "t>e"))
    instance = Instance(graph)
    result = instance.start()
    assert result.active_nodes == ("wait",)
    (job,) = result.jobs
    assert (job.kind, job.node, job.token, job.scope) == ("timer", "wait", "1", "")
    assert job.due_at == NOW + timedelta(hours=2)
    assert result.state.jobs == (job,)
    result = instance.fire("wait", at=NOW + timedelta(hours=2))
    assert result.active_nodes == ("t",)
    assert result.state.jobs == () and result.cancelled_jobs == ()
    assert trace(result)[:2] == [("event_triggered", "wait"), ("activity_completed", "wait")]


def test_firing_an_unknown_job_is_a_typed_error_the_runtime_can_ignore():
    graph = model('<startEvent id="s"/>' + _wait("<timeDuration>PT2H</timeDuration>")
                  + '<endEvent id="e"/>' + flows("s>wait", "wait>e"))
    instance = Instance(graph)
    instance.start()
    job_id = instance.job_at("wait")
    instance.fire("wait")
    from bpm_process.engine import fire_timer

    with pytest.raises(JobNotFound) as caught:
        fire_timer(graph, instance.result.state, job_id, now=NOW, new_id=instance.ids)
    assert caught.value.status_code == 404


def test_time_date_and_expression_timers():
    graph = model('<startEvent id="s"/>' + _wait("<timeDate>${deadline}</timeDate>")
                  + '<endEvent id="e"/>' + flows("s>wait", "wait>e"))
    deadline = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
    (job,) = Instance(graph).start({"deadline": deadline}).jobs
    assert job.due_at == deadline
    (job,) = Instance(graph).start({"deadline": "2024-03-06T08:00:00+01:00"}).jobs
    assert job.due_at == datetime(2024, 3, 6, 7, 0, tzinfo=UTC)
    graph = model('<startEvent id="s"/>' + _wait("<timeDuration>=reminder</timeDuration>")
                  + '<endEvent id="e"/>' + flows("s>wait", "wait>e"))
    (job,) = Instance(graph).start({"reminder": "P1DT1H"}).jobs
    assert job.due_at == NOW + timedelta(days=1, hours=1)


def _boundary(interrupting: bool, definition: str) -> str:
    return (
        '<startEvent id="s"/><userTask id="review"/><endEvent id="e"/>'
        '<boundaryEvent id="late" attachedToRef="review" '
        f'cancelActivity="{str(interrupting).lower()}">'
        f"<timerEventDefinition>{definition}</timerEventDefinition></boundaryEvent>"
        '<userTask id="escalate"/><endEvent id="e2"/>'
        + flows("s>review", "review>e", "late>escalate", "escalate>e2")
    )


def test_interrupting_boundary_timer_cancels_the_task():
    instance = Instance(model(_boundary(True, "<timeDuration>P1D</timeDuration>")))
    result = instance.start()
    (job,) = result.jobs
    assert (job.node, job.token) == ("late", "1")
    result = instance.fire("late")
    assert result.active_nodes == ("escalate",)
    assert ("task_cancelled", "review") in trace(result)
    assert ("activity_cancelled", "review") in trace(result)


def test_completing_the_task_cancels_its_boundary_timer():
    instance = Instance(model(_boundary(True, "<timeDuration>P1D</timeDuration>")))
    job = instance.start().jobs[0]
    result = instance.complete("review")
    assert result.status == "completed"
    assert result.cancelled_jobs == (job.id,)
    assert result.state.jobs == ()


def test_non_interrupting_cycle_repeats_three_times_while_the_task_waits():
    instance = Instance(model(_boundary(False, "<timeCycle>R3/PT1H</timeCycle>")))
    (job,) = instance.start().jobs
    assert job.cycle == "R3/PT1H" and job.due_at == NOW + timedelta(hours=1)
    dues = []
    for _ in range(3):
        result = instance.fire("late")
        dues.append([j.due_at for j in result.jobs])
    assert dues == [[NOW + timedelta(hours=2)], [NOW + timedelta(hours=3)], []]
    # the task still waits; three reminder tasks were created
    assert len(instance.tasks_at("escalate")) == 3
    assert instance.tasks_at("review")
    assert instance.result.state.jobs == ()


def test_non_interrupting_cycle_stops_when_the_task_completes():
    instance = Instance(model(_boundary(False, "<timeCycle>R/PT1H</timeCycle>")))
    instance.start()
    instance.fire("late")
    job_id = instance.job_at("late")
    result = instance.complete("review")
    assert result.cancelled_jobs == (job_id,)
    assert result.active_nodes == ("escalate",)


def test_timer_start_events_are_exposed_with_their_schedule():
    graph = model(
        '<startEvent id="daily"><timerEventDefinition>'
        "<timeCycle>R/2024-03-01T06:00:00Z/P1D</timeCycle></timerEventDefinition></startEvent>"
        '<userTask id="t"/><endEvent id="e"/>' + flows("daily>t", "t>e")
    )
    definition = graph.timer_starts["daily"]
    assert isinstance(definition, TimerDefinition)
    assert next_fire(definition, NOW) == datetime(2024, 3, 2, 6, 0, tzinfo=UTC)
    assert next_fire(definition, datetime(2024, 2, 1, tzinfo=UTC)) == \
        datetime(2024, 3, 1, 6, 0, tzinfo=UTC)
    result = Instance(graph).start(start_event_id="daily")
    assert result.active_nodes == ("t",)


def test_next_fire_for_every_kind():
    cycle = parse_timer_value("cycle", "R3/2024-03-01T00:00:00Z/PT1H")
    assert next_fire(cycle, datetime(2024, 3, 1, 0, 30, tzinfo=UTC)) == \
        datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    assert next_fire(cycle, datetime(2024, 3, 1, 2, 0, tzinfo=UTC)) is None
    relative = parse_timer_value("cycle", "R2/PT10M")
    assert next_fire(relative, NOW) == NOW + timedelta(minutes=10)
    assert next_fire(relative, NOW, fired=2) is None
    once = parse_timer_value("date", "2024-03-01T10:00:00Z")
    assert next_fire(once, NOW) == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert next_fire(once, datetime(2024, 3, 2, tzinfo=UTC)) is None
    after = parse_timer_value("duration", "PT5M")
    assert next_fire(after, NOW) == NOW + timedelta(minutes=5)
    with pytest.raises(ValueError):
        next_fire(after, datetime(2024, 1, 1))


def test_bad_timer_values_are_refused_when_compiling():
    from bpm_process.errors import BpmnError

    for definition in ("<timeDuration>soon</timeDuration>", "<timeCycle>0 0 * * *</timeCycle>",
                       "<timeDate>tomorrow</timeDate>", ""):
        with pytest.raises(BpmnError) as caught:
            model('<startEvent id="s"/>' + _wait(definition) + '<endEvent id="e"/>'
                  + flows("s>wait", "wait>e"))
        assert caught.value.errors[0]["element_id"] == "wait"
