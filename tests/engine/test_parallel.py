"""Parallel gateways (fork, join, nested, uneven, mixed) and implicit splits/merges."""

from __future__ import annotations

from .support import Instance, event_types, load, trace


def test_fork_creates_a_task_per_branch_and_join_waits_for_all():
    instance = Instance(load("parallel_basic.bpmn"))
    result = instance.start()
    assert result.active_nodes == ("legal", "finance")
    result = instance.complete("finance")
    assert result.active_nodes == ("legal", "join")
    assert ("activity_started", "join") not in trace(result)
    result = instance.complete("legal")
    assert result.active_nodes == ("sign",)
    assert trace(result)[:6] == [
        ("task_completed", "legal"),
        ("activity_completed", "legal"),
        ("activity_started", "join"),
        ("activity_completed", "join"),
        ("activity_started", "sign"),
        ("task_created", "sign"),
    ]
    assert instance.complete("sign").status == "completed"


def test_nested_and_uneven_branches():
    instance = Instance(load("parallel_nested.bpmn"))
    result = instance.start()
    # "d" passes straight through to the outer join
    assert result.active_nodes == ("a", "c", "outer_join")
    result = instance.complete("a")
    assert set(result.active_nodes) == {"c", "outer_join", "b1", "b2"}
    result = instance.complete("b2")
    assert set(result.active_nodes) == {"c", "outer_join", "b1", "b3"}
    result = instance.complete("c")
    assert set(result.active_nodes) == {"outer_join", "b1", "b3"}
    result = instance.complete("b1")
    assert set(result.active_nodes) == {"outer_join", "b3", "inner_join"}
    result = instance.complete("b3")
    assert result.status == "completed"
    assert result.state.tokens == ()
    assert event_types(result)[-1] == "instance_completed"
    assert trace(result).count(("activity_completed", "outer_join")) == 1


def test_a_gateway_that_joins_and_forks_and_ignores_conditions():
    instance = Instance(load("parallel_mixed.bpmn"))
    instance.start()
    assert instance.complete("a").active_nodes == ("b", "sync")
    # conditions on flows out of a parallel gateway are ignored (BPMN semantics)
    assert instance.complete("b").active_nodes == ("c", "d")
    instance.complete("d")
    assert instance.complete("c").status == "completed"


def test_implicit_split_takes_unconditional_and_true_conditional_flows():
    instance = Instance(load("implicit_split_merge.bpmn"))
    instance.start()
    result = instance.complete("review", {"urgent": True})
    assert result.active_nodes == ("archive", "escalate")


def test_implicit_merge_passes_every_token():
    instance = Instance(load("implicit_split_merge.bpmn"))
    instance.start()
    instance.complete("review", {"urgent": True})
    instance.complete("archive")
    result = instance.complete("escalate")
    # two tokens arrived at "notify" without a join: two tasks
    assert list(result.state.open_tasks().values()) == ["notify", "notify"]


def test_implicit_split_without_true_conditions_takes_only_unconditional_flows():
    instance = Instance(load("implicit_split_merge.bpmn"))
    instance.start()
    result = instance.complete("review", {"urgent": False})
    assert result.active_nodes == ("archive",)


def test_activity_default_flow_is_taken_only_when_no_condition_holds():
    instance = Instance(load("implicit_split_merge.bpmn"))
    instance.start()
    instance.complete("review")
    instance.complete("archive")
    instance.complete("notify")
    assert instance.complete("classify", {"kind": "special"}).active_nodes == ("special",)

    other = Instance(load("implicit_split_merge.bpmn"))
    other.start()
    other.complete("review")
    other.complete("archive")
    other.complete("notify")
    assert other.complete("classify", {"kind": "plain"}).active_nodes == ("standard",)
