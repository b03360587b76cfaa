"""The platform's people, time-limit and copy extensions: read into the TaskSpec,
checked at compile time, and copies recorded when a node is passed or completes."""

from __future__ import annotations

import pytest

from bpm_process.assignment import AssignmentRuleError, Rule, parse_rules
from bpm_process.engine import CopyRequested, ExpressionFailed
from bpm_process.errors import BpmnError
from bpm_process.timelimits import parse_working_duration

from .support import Instance, event_types, flows, model


def _task(attributes: str, extension: str = "") -> str:
    body = f"<extensionElements>{extension}</extensionElements>" if extension else ""
    return (
        f'<startEvent id="s"/><userTask id="t" name="Review" {attributes}>{body}</userTask>'
        f'<endEvent id="e"/>{flows("s>t", "t>e")}'
    )


def test_rules_and_time_limits_are_carried_into_the_task():
    graph = model(
        _task(
            'bpm:assignment="manager:2, role:finance_reviewer, field:approvers, '
            'department:sales/role:clerk, initiator, user:carol" '
            'bpm:timeLimit="p1dt4h" bpm:remindBefore="PT2H" '
            'bpm:timeoutAction="reassign" bpm:timeoutReassignTo="department-role:deputy"'
        )
    )
    instance = Instance(graph)
    instance.start()
    task = instance.task_at("t")
    assert task.assignment_rules == (
        "manager:2",
        "role:finance_reviewer",
        "field:approvers",
        "department:sales/role:clerk",
        "initiator",
        "user:carol",
    )
    assert task.time_limit == "P1DT4H"
    assert task.remind_before == "PT2H"
    assert task.timeout_action == "reassign"
    assert task.timeout_reassign_to == ("department-role:deputy",)
    assert task.assignee is None and task.candidate_users == () and task.due_at is None


def test_a_time_limit_alone_reminds_an_hour_before_and_escalates():
    instance = Instance(model(_task('bpm:timeLimit="PT8H"')))
    instance.start()
    task = instance.task_at("t")
    assert (task.time_limit, task.remind_before, task.timeout_action) == (
        "PT8H",
        "PT1H",
        "escalate",
    )


def test_a_plain_task_has_no_platform_fields():
    instance = Instance(model(_task('camunda:assignee="bob" camunda:dueDate="PT2H"')))
    instance.start()
    task = instance.task_at("t")
    assert (
        task.assignment_rules,
        task.time_limit,
        task.remind_before,
        task.timeout_action,
        task.timeout_reassign_to,
    ) == ((), None, None, None, ())
    assert task.assignee == "bob"


def test_a_due_date_task_may_name_its_overdue_action():
    instance = Instance(model(_task('camunda:dueDate="PT2H" bpm:timeoutAction="none"')))
    instance.start()
    task = instance.task_at("t")
    assert task.time_limit is None and task.remind_before is None
    assert task.timeout_action == "none"


def test_an_expression_time_limit_is_evaluated_per_task():
    graph = model(_task("bpm:timeLimit=\"${urgent ? 'PT2H' : 'P3D'}\""))
    urgent = Instance(graph)
    urgent.start({"urgent": True})
    assert urgent.task_at("t").time_limit == "PT2H"
    normal = Instance(graph)
    normal.start({"urgent": False})
    assert normal.task_at("t").time_limit == "P3D"
    assert normal.task_at("t").timeout_action == "escalate"


def test_an_expression_giving_nothing_means_no_time_limit_and_a_bad_value_fails():
    graph = model(_task('bpm:timeLimit="${limit}"'))
    none = Instance(graph)
    none.start({"limit": None})
    assert none.task_at("t").time_limit is None
    assert none.task_at("t").timeout_action is None
    with pytest.raises(ExpressionFailed, match="not a working-time duration"):
        Instance(graph).start({"limit": "P1M"})


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ('bpm:assignment="boss"', "'boss' is not a rule"),
        ('bpm:assignment="manager:0"', "manager levels must be between 1 and 10"),
        ('bpm:assignment=" , "', "the rule list is empty"),
        ('bpm:timeLimit="P1M"', "years and months are not counted in working time"),
        ('bpm:timeLimit="PT0S"', "longer than zero"),
        ('bpm:timeLimit="${1 +}"', "bpm:timeLimit"),
        ('bpm:timeLimit="P1D" bpm:timeoutAction="shout"', "bpm:timeoutAction must be one of"),
        ('bpm:timeLimit="P1D" bpm:timeoutAction="auto_approve"', 'needs bpm:approval="true"'),
        ('bpm:timeLimit="P1D" bpm:timeoutAction="reassign"', "needs bpm:timeoutReassignTo"),
        ('bpm:timeoutAction="escalate"', "needs bpm:timeLimit or a dueDate"),
        ('bpm:remindBefore="PT1H"', "bpm:remindBefore needs bpm:timeLimit"),
        (
            'bpm:timeLimit="P1D" bpm:timeoutReassignTo="user:x"',
            'needs bpm:timeoutAction="reassign"',
        ),
        ('bpm:copyTo="user:x"', "bpm:copyTo is only read on an intermediate throw event"),
    ],
)
def test_bad_extensions_are_refused_at_compile_time_naming_the_element(attributes, message):
    with pytest.raises(BpmnError) as caught:
        model(_task(attributes))
    [entry] = caught.value.errors
    assert entry["element_id"] == "t"
    assert message in entry["message"]


def test_bad_raci_rules_and_task_attributes_elsewhere_are_refused():
    with pytest.raises(BpmnError) as caught:
        model(
            '<startEvent id="s" bpm:assignment="user:x"/><task id="a">'
            "<extensionElements><bpm:raci><bpm:informed>everyone</bpm:informed></bpm:raci>"
            f'</extensionElements></task><endEvent id="e"/>{flows("s>a", "a>e")}'
        )
    messages = {entry["element_id"]: entry["message"] for entry in caught.value.errors}
    assert messages["s"] == "bpm:assignment is only read on a user task"
    assert messages["a"].startswith("bpm:raci informed: 'everyone' is not a rule")


def test_a_copy_node_requests_a_copy_when_it_is_passed():
    graph = model(
        '<startEvent id="s"/><intermediateThrowEvent id="cc" name="Copy risk" '
        'bpm:copyTo="user:alice, role:risk"/><userTask id="t"/><endEvent id="e"/>'
        + flows("s>cc", "cc>t", "t>e")
    )
    result = Instance(graph).start()
    types = event_types(result)
    copy = result.events[types.index("copy_requested")]
    assert copy == CopyRequested("cc", "Copy risk", ("user:alice", "role:risk"), "copy")
    assert types[types.index("copy_requested") - 1] == "activity_completed"
    assert copy.to_dict() == {
        "type": "copy_requested",
        "node_id": "cc",
        "node_name": "Copy risk",
        "rules": ["user:alice", "role:risk"],
        "kind": "copy",
    }


def test_raci_informed_people_get_a_copy_when_the_task_completes():
    graph = model(
        _task(
            'camunda:assignee="bob"',
            "<bpm:raci><bpm:responsible>role:clerk</bpm:responsible>"
            "<bpm:informed>manager, field:watchers</bpm:informed></bpm:raci>",
        )
    )
    instance = Instance(graph)
    assert "copy_requested" not in event_types(instance.start())
    done = instance.complete("t")
    copies = [e for e in done.events if isinstance(e, CopyRequested)]
    assert copies == [CopyRequested("t", "Review", ("manager", "field:watchers"), "informed")]
    assert event_types(done)[:3] == ["task_completed", "activity_completed", "copy_requested"]


def test_a_multi_instance_task_sends_its_copies_once_when_the_node_completes():
    graph = model(
        '<startEvent id="s"/><userTask id="t" camunda:assignee="${signer}">'
        "<extensionElements><bpm:raci><bpm:informed>user:erin</bpm:informed></bpm:raci>"
        '</extensionElements><multiInstanceLoopCharacteristics camunda:collection="signers" '
        'camunda:elementVariable="signer"/></userTask><endEvent id="e"/>' + flows("s>t", "t>e")
    )
    instance = Instance(graph)
    instance.start({"signers": ["bob", "carol"]})
    first, second = instance.tasks_at("t")
    assert "copy_requested" not in event_types(instance.complete_id(first))
    assert event_types(instance.complete_id(second)).count("copy_requested") == 1


def test_a_signer_task_is_for_the_signer_not_for_the_rules():
    graph = model(_task('bpm:assignment="role:clerk"'))
    instance = Instance(graph)
    instance.start()
    task = instance.task_at("t")
    result = instance.op("add_signer", task.id, user="dave", mode="parallel")
    signer = next(e.task for e in result.events if e.type == "task_created")
    assert signer.assignee == "dave" and signer.assignment_rules == ()


def test_an_initiator_rule_marks_the_resubmission_task():
    graph = model(
        '<startEvent id="s"/><userTask id="fill" bpm:assignment="initiator"/>'
        '<userTask id="approve" camunda:assignee="bob" bpm:approval="true" '
        'bpm:rejectAction="initiator"/><endEvent id="e"/>'
        + flows("s>fill", "fill>approve", "approve>e")
    )
    assert graph.initiator_task == "fill"


def test_rule_lists_parse_to_canonical_rules():
    assert parse_rules("user:alice , manager:1, manager, role:x, user:alice") == (
        Rule("user", "alice"),
        Rule("manager"),
        Rule("role", "x"),
    )
    assert str(parse_rules("department:hq-1/role:clerk")[0]) == "department:hq-1/role:clerk"
    assert parse_rules("field:form.approver")[0] == Rule("field", "form.approver")
    with pytest.raises(AssignmentRuleError, match="not a rule"):
        parse_rules("user:")
    with pytest.raises(AssignmentRuleError, match="at most 50 rules"):
        parse_rules(", ".join(f"user:u{i}" for i in range(51)))


def test_working_durations_keep_days_and_hours_apart():
    assert str(parse_working_duration("PT36H")) == "PT36H"
    assert parse_working_duration("PT36H").days == 0
    assert parse_working_duration("P1W2D").weeks == 1
    assert str(parse_working_duration("P1DT0.5S")) == "P1DT0.5S"
    assert str(parse_working_duration("P2D").times(3)) == "P6D"
    for bad in ("P", "PT", "-P1D", "P1Y", "1D", "P99999D"):
        with pytest.raises(ValueError):
            parse_working_duration(bad)
