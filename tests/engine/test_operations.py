"""Token operations: jump, cancel, skip, return (also out of parallel branches and
multi-instance bodies), signers, withdraw, terminate."""

from __future__ import annotations

import pytest

from bpm_process.engine import NotAllowed, TaskNotActive, earlier_nodes
from bpm_process.engine.events import SignerAdded, TaskCancelled

from .support import Instance, flows, model, trace

LINE = model('<startEvent id="s"/><userTask id="a"/><userTask id="b"/><userTask id="c"/>'
             '<endEvent id="e"/>' + flows("s>a", "a>b", "b>c", "c>e"))

PARALLEL = model(
    '<startEvent id="s"/><userTask id="draft"/><parallelGateway id="fork"/>'
    '<userTask id="legal"/><userTask id="finance1"/><userTask id="finance2"/>'
    '<parallelGateway id="join"/><userTask id="final"/><endEvent id="e"/>'
    + flows("s>draft", "draft>fork", "fork>legal", "fork>finance1", "finance1>finance2",
            "legal>join", "finance2>join", "join>final", "final>e"))


def test_move_token_jumps_and_cancels_the_task():
    instance = Instance(LINE)
    instance.start()
    result = instance.op("move_token", from_node="a", to_node="c", reason="urgent")
    assert result.active_nodes == ("c",)
    assert trace(result)[:3] == [("task_cancelled", "a"), ("activity_cancelled", "a"),
                                 ("token_moved", "")]
    moved = next(e for e in result.events if e.type == "token_moved")
    assert (moved.from_node, moved.to_node, moved.reason) == ("a", "c", "urgent")
    assert next(e for e in result.events if isinstance(e, TaskCancelled)).reason == "moved"


def test_skip_node_leaves_as_if_completed_without_a_task_completion():
    instance = Instance(LINE)
    instance.start()
    task_id = instance.task_at("a").id
    result = instance.op("skip_node", task_id=task_id, variables={"skipped": True})
    assert result.active_nodes == ("b",)
    types = [e.type for e in result.events]
    assert "task_completed" not in types and types[:3] == [
        "task_cancelled", "node_skipped", "activity_completed"]
    assert result.variables == {"skipped": True}


def test_cancel_token_of_the_last_token_terminates_the_instance():
    instance = Instance(LINE)
    instance.start()
    result = instance.op("cancel_token", from_node="a", reason="duplicate")
    assert result.status == "terminated"
    assert [e.type for e in result.events][-2:] == ["token_cancelled", "instance_terminated"]


def test_cancelling_one_parallel_branch_lets_the_other_go_on():
    instance = Instance(PARALLEL)
    instance.start()
    instance.complete("draft")
    instance.complete("legal")
    result = instance.op("cancel_token", from_node="finance1")
    # the join still waits for the cancelled branch: an administrator decides next
    assert result.active_nodes == ("join",)


def test_earlier_nodes_lists_completed_nodes_on_the_way_here():
    instance = Instance(PARALLEL)
    instance.start()
    instance.complete("draft")
    instance.complete("legal")
    instance.complete("finance1")
    task_id = instance.task_at("finance2").id
    assert earlier_nodes(PARALLEL, instance.state, task_id) == ("draft", "finance1")
    with pytest.raises(TaskNotActive):
        earlier_nodes(PARALLEL, instance.state, "nope")


def test_return_inside_a_branch_keeps_the_sibling_arrival_at_the_join():
    instance = Instance(PARALLEL)
    instance.start()
    instance.complete("draft")
    instance.complete("legal")
    instance.complete("finance1")
    result = instance.op("return_to", instance.task_at("finance2").id, "finance1")
    assert sorted(result.active_nodes) == ["finance1", "join"]
    instance.complete("finance1")
    instance.complete("finance2")
    assert instance.result.active_nodes == ("final",)


def test_return_before_the_split_cancels_every_branch_and_join_arrival():
    instance = Instance(PARALLEL)
    instance.start()
    instance.complete("draft")
    instance.complete("legal")
    result = instance.op("return_to", instance.task_at("finance1").id, "draft",
                         reason="start over")
    assert result.active_nodes == ("draft",)
    assert result.state.tokens[0].via is None and len(result.state.tokens) == 1
    instance.complete("draft")
    assert sorted(instance.result.active_nodes) == ["finance1", "legal"]


def test_return_to_a_node_that_was_not_on_the_way_is_refused():
    instance = Instance(PARALLEL)
    instance.start()
    instance.complete("draft")
    instance.complete("legal")
    with pytest.raises(NotAllowed) as caught:
        instance.op("return_to", instance.task_at("finance1").id, "legal")
    assert caught.value.element_id == "legal"


def test_return_from_a_multi_instance_task_cancels_the_other_instances():
    graph = model(
        '<startEvent id="s"/><userTask id="prepare"/><userTask id="sign">'
        '<multiInstanceLoopCharacteristics><loopCardinality>3</loopCardinality>'
        '</multiInstanceLoopCharacteristics></userTask><endEvent id="e"/>'
        + flows("s>prepare", "prepare>sign", "sign>e"))
    instance = Instance(graph)
    instance.start()
    instance.complete("prepare")
    first, second, third = instance.tasks_at("sign")
    instance.complete_id(first)
    result = instance.op("return_to", second, "prepare")
    assert result.active_nodes == ("prepare",)
    assert sorted(e.task_id for e in result.events if isinstance(e, TaskCancelled)) == sorted(
        [second, third])
    assert result.state.scopes == ()


def test_return_from_inside_a_sub_process_to_a_node_before_it():
    graph = model(
        '<startEvent id="s"/><userTask id="a"/><subProcess id="sub"><startEvent id="ss"/>'
        '<userTask id="inner"/><endEvent id="se"/>'
        '<sequenceFlow id="i1" sourceRef="ss" targetRef="inner"/>'
        '<sequenceFlow id="i2" sourceRef="inner" targetRef="se"/></subProcess>'
        '<endEvent id="e"/>' + flows("s>a", "a>sub", "sub>e"))
    instance = Instance(graph)
    instance.start()
    instance.complete("a")
    result = instance.op("return_to", instance.task_at("inner").id, "a")
    assert result.active_nodes == ("a",) and result.state.scopes == ()


def test_parallel_signer_must_also_complete():
    instance = Instance(LINE)
    instance.start()
    task_id = instance.task_at("a").id
    result = instance.op("add_signer", task_id, user="dave", mode="parallel")
    (added,) = [e for e in result.events if isinstance(e, SignerAdded)]
    assert instance.tasks[added.signer_id].assignee == "dave"
    assert len(instance.tasks_at("a")) == 2
    assert instance.complete_id(task_id).active_nodes == ("a",)
    assert instance.complete_id(added.signer_id).active_nodes == ("b",)


def test_before_signer_signs_first_then_the_task_comes_back():
    instance = Instance(model('<startEvent id="s"/><userTask id="a" camunda:assignee="ann"/>'
                              '<endEvent id="e"/>' + flows("s>a", "a>e")))
    instance.start()
    task_id = instance.task_at("a").id
    result = instance.op("add_signer", task_id, user="dave", mode="before")
    assert [e.reason for e in result.events if isinstance(e, TaskCancelled)] == [
        "signer_before"]
    signer_task = instance.task_at("a")
    assert signer_task.assignee == "dave"
    instance.complete_id(signer_task.id)
    again = instance.task_at("a")
    assert again.assignee == "ann" and again.id != task_id
    assert instance.complete_id(again.id).status == "completed"


def test_after_signer_signs_once_the_task_is_completed():
    instance = Instance(LINE)
    instance.start()
    task_id = instance.task_at("a").id
    instance.op("add_signer", task_id, user="dave", mode="after")
    instance.complete_id(task_id)
    signer_task = instance.task_at("a")
    assert signer_task.assignee == "dave"
    assert instance.complete_id(signer_task.id).active_nodes == ("b",)


def test_remove_signer_but_never_the_last_task():
    instance = Instance(LINE)
    instance.start()
    task_id = instance.task_at("a").id
    added = instance.op("add_signer", task_id, user="dave", mode="parallel").events[-1]
    result = instance.op("remove_signer", added.signer_id)
    assert [e.type for e in result.events] == ["task_cancelled", "signer_removed"]
    assert instance.tasks_at("a") == [task_id]
    pending = instance.op("add_signer", task_id, user="erin", mode="after").events[-1]
    instance.op("remove_signer", pending.signer_id)
    assert instance.complete_id(task_id).active_nodes == ("b",)
    with pytest.raises(NotAllowed):
        instance.op("remove_signer", "unknown")


def test_withdraw_and_terminate_cancel_everything():
    instance = Instance(PARALLEL)
    instance.start()
    instance.complete("draft")
    result = instance.op("withdraw", reason="changed my mind")
    assert result.status == "terminated" and result.state.tokens == ()
    types = [e.type for e in result.events]
    assert types.count("task_cancelled") == 2
    assert types[-2:] == ["instance_withdrawn", "instance_terminated"]
    other = Instance(PARALLEL)
    other.start()
    result = other.op("terminate", reason="fraud")
    assert result.status == "terminated"
    assert result.events[-1].reason == "fraud" and result.events[-1].node_id is None


def test_a_token_moved_to_the_join_arrives_by_its_own_branch():
    instance = Instance(PARALLEL)
    instance.start()
    instance.complete("draft")
    moved = instance.op("move_token", from_node="finance1", to_node="join", reason="no finance check")
    assert sorted(moved.active_nodes) == ["join", "legal"]
    assert instance.complete("legal").active_nodes == ("final",)


def test_a_token_moved_out_of_a_countersign_to_the_join_arrives_by_its_branch():
    graph = model(
        '<startEvent id="s"/><parallelGateway id="fork"/>'
        '<userTask id="sign" camunda:assignee="${signer}"><multiInstanceLoopCharacteristics '
        'camunda:collection="${signers}" camunda:elementVariable="signer"/></userTask>'
        '<userTask id="legal"/><parallelGateway id="join"/><userTask id="final"/><endEvent id="e"/>'
        + flows("s>fork", "fork>sign", "fork>legal", "sign>join", "legal>join", "join>final", "final>e"))
    instance = Instance(graph)
    instance.start({"signers": ["ann", "ben"]})
    instance.complete_id(instance.tasks_at("sign")[0])
    moved = instance.op("move_token", from_node="sign", to_node="join")
    assert sorted(moved.active_nodes) == ["join", "legal"] and moved.state.scopes == ()
    assert instance.complete("legal").active_nodes == ("final",)


def test_a_token_from_no_branch_of_a_join_cannot_be_put_there():
    instance = Instance(PARALLEL)
    instance.start()
    instance.complete("draft")
    instance.complete("legal")
    instance.complete("finance1")
    instance.complete("finance2")
    with pytest.raises(NotAllowed, match="joining gateway 'join'"):
        instance.op("move_token", from_node="final", to_node="join")
    before_the_fork = Instance(PARALLEL)
    before_the_fork.start()
    with pytest.raises(NotAllowed, match="exactly one of the gateway's incoming branches"):
        before_the_fork.op("move_token", from_node="draft", to_node="join")
