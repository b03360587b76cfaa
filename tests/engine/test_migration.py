"""Migrating running instances between process versions."""

from __future__ import annotations

import pytest

from services.runtime.engine import NotAllowed, migrate, migration_plan

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
