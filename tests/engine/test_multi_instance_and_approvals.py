"""Multi-instance user tasks and sub-processes (parallel, sequential, cardinality,
collections in every dialect, completion conditions, counters) and approval
semantics: sign modes, reject ends, reject actions and the outcome variable."""

from __future__ import annotations

import pytest

from bpm_process.engine import InvalidCommand, NotAllowed
from bpm_process.engine.events import ApprovalDecided, TaskCancelled

from .support import Instance, flows, model


def _mi(task_attributes: str, loop: str, *, after: str = "") -> str:
    return (
        '<startEvent id="s"/>'
        f'<userTask id="sign" {task_attributes}>{loop}</userTask>'
        '<userTask id="next"/><endEvent id="e"/>' + after
        + flows("s>sign", "sign>next", "next>e")
    )


def _parallel(cardinality: str = "", collection: str = "", completion: str = "") -> str:
    inner = f"<loopCardinality>{cardinality}</loopCardinality>" if cardinality else ""
    if completion:
        inner += f"<completionCondition>{completion}</completionCondition>"
    return (f"<multiInstanceLoopCharacteristics {collection}>{inner}"
            "</multiInstanceLoopCharacteristics>")


def test_parallel_collection_creates_one_task_per_element_with_its_assignee():
    graph = model(_mi('camunda:assignee="${reviewer}"', _parallel(
        collection='camunda:collection="${reviewers}" camunda:elementVariable="reviewer"')))
    instance = Instance(graph)
    result = instance.start({"reviewers": ["ann", "ben", "cid"]})
    assignees = [instance.tasks[t].assignee for t in instance.tasks_at("sign")]
    assert assignees == ["ann", "ben", "cid"]
    (body,) = [s for s in result.state.scopes if s.kind == "mi"]
    assert dict(body.variables) == {"nrOfInstances": 3, "nrOfCompletedInstances": 0,
                                    "nrOfActiveInstances": 3}
    instances = [s for s in result.state.scopes if s.kind == "inst"]
    assert [dict(s.variables) for s in instances] == [
        {"loopCounter": 0, "reviewer": "ann"}, {"loopCounter": 1, "reviewer": "ben"},
        {"loopCounter": 2, "reviewer": "cid"}]
    for task_id in instance.tasks_at("sign")[:2]:
        instance.complete_id(task_id)
    body = next(s for s in instance.result.state.scopes if s.kind == "mi")
    assert body.variables["nrOfCompletedInstances"] == 2
    assert body.variables["nrOfActiveInstances"] == 1
    result = instance.complete("sign")
    assert result.active_nodes == ("next",)
    assert result.state.scopes == ()


def test_sequential_zeebe_collection_runs_one_instance_at_a_time():
    loop = ('<multiInstanceLoopCharacteristics isSequential="true"><extensionElements>'
            '<zeebe:loopCharacteristics inputCollection="=approvers" inputElement="approver"'
            ' outputCollection="notes" outputElement="=note"/>'
            '</extensionElements></multiInstanceLoopCharacteristics>')
    graph = model(_mi("", loop).replace(
        '<userTask id="sign" >',
        '<userTask id="sign"><extensionElements><zeebe:assignmentDefinition '
        'assignee="=approver"/></extensionElements>'))
    instance = Instance(graph)
    instance.start({"approvers": ["ann", "ben"]})
    assert instance.task_at("sign").assignee == "ann"
    instance.complete("sign", {"note": "fine"})
    assert instance.task_at("sign").assignee == "ben"
    result = instance.complete("sign", {"note": "ok"})
    assert result.active_nodes == ("next",)
    # per-instance variables stayed local; the output collection gathered them
    assert result.variables == {"approvers": ["ann", "ben"], "notes": ["fine", "ok"]}


def test_completion_condition_ends_the_body_early_and_cancels_the_rest():
    graph = model(_mi("", _parallel("4", completion="${nrOfCompletedInstances >= 2}")))
    instance = Instance(graph)
    instance.start()
    first, second, *_ = instance.tasks_at("sign")
    instance.complete_id(first)
    result = instance.complete_id(second)
    assert result.active_nodes == ("next",)
    cancelled = [e for e in result.events if isinstance(e, TaskCancelled)]
    assert [e.reason for e in cancelled] == ["completed", "completed"]


def test_zero_instances_pass_straight_through():
    graph = model(_mi("", _parallel(collection='camunda:collection="items"')))
    assert Instance(graph).start({"items": []}).active_nodes == ("next",)


def test_multi_instance_sub_process_runs_the_body_per_element():
    graph = model(
        '<startEvent id="s"/><subProcess id="each">'
        '<multiInstanceLoopCharacteristics camunda:collection="${items}" '
        'camunda:elementVariable="item"/>'
        '<startEvent id="ss"/><userTask id="pack" camunda:assignee="${item}"/><endEvent id="se"/>'
        '<sequenceFlow id="i1" sourceRef="ss" targetRef="pack"/>'
        '<sequenceFlow id="i2" sourceRef="pack" targetRef="se"/></subProcess>'
        '<endEvent id="e"/>' + flows("s>each", "each>e"))
    instance = Instance(graph)
    result = instance.start({"items": ["x", "y"]})
    assert sorted(instance.tasks[t].assignee for t in instance.tasks_at("pack")) == ["x", "y"]
    assert sorted(s.kind for s in result.state.scopes) == ["inst", "inst", "mi", "sub", "sub"]
    instance.complete_id(instance.tasks_at("pack")[0])
    assert instance.complete("pack").status == "completed"


# -- approvals ------------------------------------------------------------------------


def _approval(mode: str, extra: str = "", count: int = 5) -> Instance:
    graph = model(_mi(
        f'bpm:approval="true" bpm:signMode="{mode}" {extra} camunda:assignee="${{signer}}"',
        _parallel(collection='camunda:collection="${signers}" camunda:elementVariable="signer"'),
    ).replace('<userTask id="next"/>', '<exclusiveGateway id="route" default="ok"/>'
              '<userTask id="next"/><userTask id="redo"/>').replace(
        flows("s>sign", "sign>next", "next>e"),
        '<sequenceFlow id="f1" sourceRef="s" targetRef="sign"/>'
        '<sequenceFlow id="f2" sourceRef="sign" targetRef="route"/>'
        '<sequenceFlow id="ok" sourceRef="route" targetRef="next"/>'
        '<sequenceFlow id="no" sourceRef="route" targetRef="redo">'
        '<conditionExpression>${sign_outcome == "rejected"}</conditionExpression></sequenceFlow>'
        '<sequenceFlow id="f3" sourceRef="next" targetRef="e"/>'
        '<sequenceFlow id="f4" sourceRef="redo" targetRef="e"/>'))
    instance = Instance(graph)
    instance.start({"signers": [f"u{i}" for i in range(count)]})
    return instance


def _vote(instance: Instance, *outcomes: str):
    result = None
    for outcome in outcomes:
        task_id = instance.tasks_at("sign")[0]
        result = instance.complete_id(task_id, outcome=outcome)
    return result


def test_countersign_all_needs_every_approval():
    instance = _approval("all")
    result = _vote(instance, "approve", "approve", "approve", "approve")
    assert result.active_nodes == ("sign",)
    body = next(s for s in result.state.scopes if s.kind == "mi")
    assert (body.variables["nrOfApproved"], body.variables["nrOfRejected"]) == (4, 0)
    result = _vote(instance, "approve")
    assert result.active_nodes == ("next",)
    assert result.variables["sign_outcome"] == "approved"
    (decided,) = [e for e in result.events if isinstance(e, ApprovalDecided)]
    assert (decided.outcome, decided.approved, decided.rejected, decided.instances) == (
        "approved", 5, 0, 5)


def test_countersign_all_with_a_rejection_is_rejected_once_everyone_voted():
    instance = _approval("all")
    result = _vote(instance, "approve", "reject", "approve", "approve", "approve")
    assert result.active_nodes == ("redo",)
    assert result.variables["sign_outcome"] == "rejected"


def test_reject_ends_decides_at_the_first_rejection_and_cancels_the_others():
    instance = _approval("all", 'bpm:rejectEnds="true"')
    result = _vote(instance, "approve", "reject")
    assert result.active_nodes == ("redo",)
    cancelled = [e for e in result.events if isinstance(e, TaskCancelled)]
    assert len(cancelled) == 3 and {e.reason for e in cancelled} == {"rejected"}


def test_any_sign_the_first_approval_decides():
    instance = _approval("any")
    result = _vote(instance, "reject", "approve")
    assert result.active_nodes == ("next",)
    assert len([e for e in result.events if isinstance(e, TaskCancelled)]) == 3


def test_ratio_and_votes():
    instance = _approval("ratio", 'bpm:passRatio="0.6"')
    assert _vote(instance, "approve", "reject", "approve").active_nodes == ("sign",)
    assert _vote(instance, "approve").active_nodes == ("next",)
    instance = _approval("votes", 'bpm:passVotes="2"')
    assert _vote(instance, "approve", "approve").active_nodes == ("next",)
    instance = _approval("votes", 'bpm:passVotes="2"', count=3)
    assert _vote(instance, "reject", "reject", "approve").active_nodes == ("redo",)


def test_approval_tasks_need_an_outcome_and_other_tasks_refuse_one():
    instance = _approval("all")
    with pytest.raises(InvalidCommand):
        instance.complete_id(instance.tasks_at("sign")[0])
    with pytest.raises(InvalidCommand):
        instance.complete_id(instance.tasks_at("sign")[0], outcome="maybe")
    plain = Instance(model('<startEvent id="s"/><userTask id="t"/><endEvent id="e"/>'
                           + flows("s>t", "t>e")))
    plain.start()
    with pytest.raises(InvalidCommand):
        plain.complete("t", outcome="approve")


def test_the_outcome_is_stored_as_a_task_local_variable():
    instance = _approval("all")
    task_id = instance.tasks_at("sign")[0]
    result = instance.complete_id(task_id, outcome="approve")
    assert "outcome" not in result.variables


REJECT_FLOW = (
    '<startEvent id="s"/>'
    '<userTask id="draft" camunda:assignee="${initiator}"/>'
    '<userTask id="check"/>'
    '<userTask id="approve" bpm:approval="true" bpm:rejectAction="{action}"/>'
    '<endEvent id="e"/>' + flows("s>draft", "draft>check", "check>approve", "approve>e")
)


def _reject(action: str) -> Instance:
    instance = Instance(model(REJECT_FLOW.replace("{action}", action)))
    instance.start()
    instance.complete("draft")
    instance.complete("check")
    instance.complete("approve", outcome="reject")
    return instance


def test_reject_action_end_ends_the_instance_as_rejected():
    instance = _reject("end")
    result = instance.result
    assert result.status == "completed" and result.result == "rejected"
    assert [e.type for e in result.events][-2:] == ["instance_rejected", "instance_completed"]
    assert instance.state.result == "rejected"


def test_reject_action_initiator_returns_to_the_initiators_task():
    instance = _reject("initiator")
    assert instance.result.active_nodes == ("draft",)
    assert ("token_moved", "") in [(e.type, "") for e in instance.result.events]


def test_reject_action_previous_returns_to_the_task_completed_before():
    instance = _reject("previous")
    assert instance.result.active_nodes == ("check",)


def test_reject_action_node_goes_to_the_named_node():
    instance = _reject("node:draft")
    assert instance.result.active_nodes == ("draft",)
    approve = Instance(model(REJECT_FLOW.replace("{action}", "end")))
    approve.start()
    approve.complete("draft")
    approve.complete("check")
    assert approve.complete("approve", outcome="approve").status == "completed"
    assert approve.result.result is None
    assert approve.result.variables["approve_outcome"] == "approved"


def test_bad_approval_attributes_are_refused():
    from bpm_process.errors import BpmnError

    for attributes in ('bpm:approval="true" bpm:signMode="most"',
                       'bpm:approval="true" bpm:signMode="ratio" bpm:passRatio="2"',
                       'bpm:approval="true" bpm:rejectAction="node:nowhere"',
                       'bpm:signMode="all"'):
        with pytest.raises(BpmnError):
            model(f'<startEvent id="s"/><userTask id="t" {attributes}/><endEvent id="e"/>'
                  + flows("s>t", "t>e"))


# -- signers removed from the vote, and signers added as votes --------------------------


def _sequential_approval(mode: str, count: int) -> Instance:
    graph = model(_mi(
        f'bpm:approval="true" bpm:signMode="{mode}" camunda:assignee="${{signer}}"',
        _parallel(collection='isSequential="true" camunda:collection="${signers}" '
                             'camunda:elementVariable="signer"')))
    instance = Instance(graph)
    instance.start({"signers": [f"u{i}" for i in range(count)]})
    return instance


def _task_of(instance: Instance, assignee: str) -> str:
    [task_id] = [t for t in instance.tasks_at("sign") if instance.tasks[t].assignee == assignee]
    return task_id


def _decided(result) -> tuple:
    (decided,) = [e for e in result.events if isinstance(e, ApprovalDecided)]
    return decided.outcome, decided.approved, decided.rejected, decided.instances


def test_a_skipped_or_cancelled_signer_is_no_vote_and_the_others_decide():
    for operation in ("skip_node", "cancel_token"):
        instance = _approval("all", count=3)
        task_id = _task_of(instance, "u2")
        if operation == "skip_node":
            instance.op("skip_node", task_id=task_id, reason="on leave")
        else:
            [token] = [t.id for t in instance.state.tokens if t.task == task_id]
            instance.op("cancel_token", token_id=token, reason="left the company")
        body = next(s for s in instance.result.state.scopes if s.kind == "mi")
        assert (body.variables["nrOfSkipped"], body.variables["nrOfCompletedInstances"]) == (1, 1)
        instance.complete_id(_task_of(instance, "u0"), outcome="approve")
        result = instance.complete_id(_task_of(instance, "u1"), outcome="approve")
        assert result.active_nodes == ("next",), operation
        assert result.variables["sign_outcome"] == "approved"
        assert _decided(result) == ("approved", 2, 0, 2)


def test_a_skipped_signer_of_a_sequential_countersign_passes_the_turn_on():
    instance = _sequential_approval("all", 3)
    instance.op("skip_node", task_id=_task_of(instance, "u0"), reason="on leave")
    instance.complete_id(_task_of(instance, "u1"), outcome="approve")
    result = instance.complete_id(_task_of(instance, "u2"), outcome="approve")
    assert result.active_nodes == ("next",) and _decided(result) == ("approved", 2, 0, 2)


def test_a_ratio_is_taken_of_the_signers_left():
    instance = _approval("ratio", 'bpm:passRatio="0.6"', count=3)
    instance.op("skip_node", task_id=_task_of(instance, "u2"))
    instance.complete_id(_task_of(instance, "u0"), outcome="approve")
    result = instance.complete_id(_task_of(instance, "u1"), outcome="reject")
    assert result.active_nodes == ("redo",) and _decided(result) == ("rejected", 1, 1, 2)


def test_a_countersign_whose_every_signer_was_skipped_passes():
    instance = _approval("ratio", 'bpm:passRatio="0.5"', count=2)
    instance.op("skip_node", task_id=_task_of(instance, "u0"))
    result = instance.op("skip_node", task_id=_task_of(instance, "u1"))
    assert result.active_nodes == ("next",) and _decided(result) == ("approved", 0, 0, 0)


def test_a_signer_added_in_parallel_to_a_countersign_votes_on_their_own():
    instance = _approval("votes", 'bpm:passVotes="2"', count=2)
    added = instance.op("add_signer", _task_of(instance, "u0"), user="erin", mode="parallel")
    body = next(s for s in added.state.scopes if s.kind == "mi")
    assert (body.variables["nrOfInstances"], body.variables["nrOfActiveInstances"]) == (3, 3)
    assert dict(body.data)["items"] == ["u0", "u1", "erin"]
    erin = next(s for s in added.state.scopes if s.kind == "inst" and s.variables["loopCounter"] == 2)
    assert dict(erin.variables) == {"loopCounter": 2, "signer": "erin"}
    instance.complete_id(_task_of(instance, "u0"), outcome="approve")
    result = instance.complete_id(_task_of(instance, "erin"), outcome="approve")
    assert result.active_nodes == ("next",) and _decided(result) == ("approved", 2, 0, 3)
    assert [e.reason for e in result.events if isinstance(e, TaskCancelled)] == ["completed"]


def test_an_or_sign_is_passed_by_any_approval_with_added_signers_too():
    instance = _approval("any", count=2)
    instance.op("add_signer", _task_of(instance, "u0"), user="erin", mode="parallel")
    instance.complete_id(_task_of(instance, "u1"), outcome="reject")
    result = instance.complete_id(_task_of(instance, "u0"), outcome="approve")
    assert result.active_nodes == ("next",) and _decided(result) == ("approved", 1, 1, 3)


def test_a_signer_added_to_a_countersign_and_removed_again_does_not_vote():
    instance = _approval("all", count=2)
    added = instance.op("add_signer", _task_of(instance, "u0"), user="erin", mode="parallel")
    (signer,) = [e for e in added.events if e.type == "signer_added"]
    removed = instance.op("remove_signer", signer.signer_id)
    assert [e.type for e in removed.events][:2] == ["task_cancelled", "signer_removed"]
    assert len(instance.tasks_at("sign")) == 2
    instance.complete_id(_task_of(instance, "u0"), outcome="approve")
    result = instance.complete_id(_task_of(instance, "u1"), outcome="approve")
    assert result.active_nodes == ("next",) and _decided(result) == ("approved", 2, 0, 2)
    with pytest.raises(NotAllowed):  # the last open task of the node stays
        one = _approval("all", count=1)
        extra = one.op("add_signer", _task_of(one, "u0"), user="erin", mode="parallel")
        one.complete_id(_task_of(one, "u0"), outcome="approve")
        one.op("remove_signer", next(e for e in extra.events if e.type == "signer_added").signer_id)


def test_a_co_signer_of_a_sequential_countersign_is_removed_from_the_task_only():
    instance = _sequential_approval("all", 2)
    added = instance.op("add_signer", _task_of(instance, "u0"), user="erin", mode="parallel")
    (signer,) = [e for e in added.events if e.type == "signer_added"]
    removed = instance.op("remove_signer", signer.signer_id)
    assert [e.type for e in removed.events] == ["task_cancelled", "signer_removed"]
    assert [instance.tasks[t].assignee for t in instance.tasks_at("sign")] == ["u0"]
    instance.complete_id(_task_of(instance, "u0"), outcome="approve")
    result = instance.complete_id(_task_of(instance, "u1"), outcome="approve")
    assert result.active_nodes == ("next",) and _decided(result) == ("approved", 2, 0, 2)
