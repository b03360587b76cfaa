"""Migrating running instances between process versions."""

from __future__ import annotations

import pytest

from bpm_process.engine import InvalidCommand, NotAllowed, migrate, migration_plan

from .support import NOW, Ids, Instance, flows, model

V1 = model('<startEvent id="s"/><userTask id="review"/><userTask id="pay"/><endEvent id="e"/>'
           + flows("s>review", "review>pay", "pay>e"), process_id="claim")
V2 = model(
    '<startEvent id="s"/><userTask id="check"/><userTask id="pay"/><userTask id="archive"/>'
    '<boundaryEvent id="late" attachedToRef="check" cancelActivity="false">'
    '<timerEventDefinition><timeDuration>P1D</timeDuration></timerEventDefinition>'
    '</boundaryEvent><endEvent id="e"/><endEvent id="e2"/>'
    + flows("s>check", "check>pay", "pay>archive", "archive>e", "late>e2"),
    process_id="claim")


def test_migration_plan_names_the_risky_nodes():
    plan = migration_plan(V1, V2)
    assert plan["mapped"] == {"e": "e", "pay": "pay", "s": "s"}
    assert plan["removed"] == ["review"]
    assert plan["added"] == ["archive", "check", "e2", "late"]
    assert [risk["node_id"] for risk in plan["unmapped_active_risks"]] == ["review"]


def test_migrate_with_a_mapping_keeps_the_task_and_arms_new_boundary_events():
    instance = Instance(V1)
    state = instance.start().state
    task_id = instance.task_at("review").id
    with pytest.raises(NotAllowed) as caught:
        migrate(V1, V2, state, now=NOW, new_id=Ids())
    assert caught.value.element_id == "review"
    result = migrate(V1, V2, state, mapping={"review": "check"}, now=NOW, new_id=Ids())
    assert result.state.open_tasks() == {task_id: "check"}
    assert [job.node for job in result.jobs] == ["late"]
    assert result.events[-1].type == "instance_migrated"
    moved = Instance(V2)
    moved.results.append(result)
    assert moved.complete_id(task_id).active_nodes == ("pay",)


def test_migrating_a_token_to_an_element_of_another_kind_is_refused():
    instance = Instance(V1)
    state = instance.start().state
    with pytest.raises(NotAllowed):
        migrate(V1, V2, state, mapping={"review": "late"}, now=NOW, new_id=Ids())


NUDGE_V1 = model(
    '<startEvent id="s"/><userTask id="review"/><endEvent id="e"/><userTask id="nudge"/><endEvent id="e2"/>'
    '<boundaryEvent id="remind" attachedToRef="review" cancelActivity="false">'
    '<timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>'
    + flows("s>review", "review>e", "remind>nudge", "nudge>e2"), process_id="nudge")


def test_a_one_shot_timer_that_fired_is_not_armed_again_but_one_the_new_version_adds_is():
    instance = Instance(NUDGE_V1)
    instance.start()
    fired = instance.fire("remind")
    assert set(fired.state.open_tasks().values()) == {"review", "nudge"} and fired.state.jobs == ()
    result = migrate(NUDGE_V1, NUDGE_V1, fired.state, now=NOW, new_id=Ids())
    assert result.jobs == (), "the fired timer stays fired"

    with_escalation = model(
        '<startEvent id="s"/><userTask id="review"/><endEvent id="e"/><userTask id="nudge"/>'
        '<endEvent id="e2"/><endEvent id="e3"/>'
        '<boundaryEvent id="remind" attachedToRef="review" cancelActivity="false">'
        '<timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></boundaryEvent>'
        '<boundaryEvent id="escalate" attachedToRef="review" cancelActivity="false">'
        '<timerEventDefinition><timeDuration>P1D</timeDuration></timerEventDefinition></boundaryEvent>'
        + flows("s>review", "review>e", "remind>nudge", "nudge>e2", "escalate>e3"), process_id="nudge")
    result = migrate(NUDGE_V1, with_escalation, fired.state, now=NOW, new_id=Ids())
    assert [job.node for job in result.jobs] == ["escalate"]


def test_a_migration_that_would_change_a_tokens_sub_process_or_loop_or_merge_nodes_is_refused():
    flat = model('<startEvent id="s"/><userTask id="a"/><userTask id="b"/><endEvent id="e"/>'
                 + flows("s>a", "a>b", "b>e"), process_id="p")
    nested = model('<startEvent id="s"/><subProcess id="sub"><startEvent id="ss"/><userTask id="a"/>'
                   '<endEvent id="se"/><sequenceFlow id="i1" sourceRef="ss" targetRef="a"/>'
                   '<sequenceFlow id="i2" sourceRef="a" targetRef="se"/></subProcess>'
                   '<userTask id="b"/><endEvent id="e"/>' + flows("s>sub", "sub>b", "b>e"), process_id="p")
    state = Instance(flat).start().state
    with pytest.raises(NotAllowed, match="sub-process"):
        migrate(flat, nested, state, now=NOW, new_id=Ids())
    with pytest.raises(InvalidCommand, match="would all become"):
        migrate(flat, flat, state, mapping={"a": "b"}, now=NOW, new_id=Ids())

    def looped(sequential: str) -> object:
        return model('<startEvent id="s"/><userTask id="a" camunda:assignee="${who}">'
                     f'<multiInstanceLoopCharacteristics isSequential="{sequential}" '
                     'camunda:collection="${people}" camunda:elementVariable="who"/></userTask>'
                     '<endEvent id="e"/>' + flows("s>a", "a>e"), process_id="p")

    sequential, parallel = looped("true"), looped("false")
    state = Instance(sequential).start({"people": ["ann", "ben"]}).state
    assert [r["node_id"] for r in migration_plan(sequential, parallel)["unmapped_active_risks"]] == ["a"]
    with pytest.raises(NotAllowed, match="multi-instance"):
        migrate(sequential, parallel, state, now=NOW, new_id=Ids())


def test_a_subscription_follows_the_message_its_event_now_waits_for():
    def receiving(message: str) -> object:
        return model('<startEvent id="s"/><receiveTask id="wait" messageRef="m"/><endEvent id="e"/>'
                     + flows("s>wait", "wait>e"), process_id="p", roots=f'<message id="m" name="{message}"/>')

    old, new = receiving("paid"), receiving("payment-settled")
    state = Instance(old).start().state
    [sub] = state.subscriptions
    result = migrate(old, new, state, now=NOW, new_id=Ids())
    assert [s.name for s in result.state.subscriptions] == ["payment-settled"]
    assert result.state.subscriptions[0].id != sub.id
