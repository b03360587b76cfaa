"""User task assignment in every dialect, ${initiator}, and due dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bpm_process.engine import ExpressionFailed, complete_task, start

from .support import NOW, Ids, Instance, flows, load, model


def test_camunda7_attributes_with_expressions_and_initiator():
    instance = Instance(load("assign_camunda7.bpmn"))
    result = instance.start({"priority": 75}, initiator="alice")
    assert result.variables["starter"] == "alice"  # camunda:initiator="starter"
    own = instance.task_at("own")
    assert own.assignee == "alice"
    assert own.priority == 75
    assert own.form_key == "embedded:app:forms/own.html"
    assert own.documentation == "Check your own claim."
    assert own.name == "Own task"
    assert own.due_at is None

    deadline = datetime(2024, 3, 5, 17, 0, tzinfo=timezone(timedelta(hours=1)))
    instance.complete("own", {"extraUser": "carol", "roles": ["cashier", "finance_reviewer"],
                              "deadline": deadline})
    shared = instance.task_at("shared")
    assert shared.assignee is None
    assert shared.candidate_users == ("alice", "carol")
    assert shared.candidate_groups == ("finance_reviewer", "cashier")
    assert shared.due_at == datetime(2024, 3, 5, 16, 0, tzinfo=UTC)
    assert shared.priority == 50  # the default

    instance.complete("shared", {"suffix": "42"})
    templated = instance.task_at("templated")
    assert templated.assignee == "user-42"
    assert templated.due_at == datetime(2030, 5, 1, 10, 0, tzinfo=UTC)
    assert templated.priority == 10


def test_camunda7_candidate_list_from_a_comma_string_variable():
    instance = Instance(load("assign_camunda7.bpmn"))
    instance.start({"priority": 1})
    instance.complete("own", {"extraUser": "dave, erin", "roles": "cashier"})
    shared = instance.task_at("shared")
    assert shared.candidate_users == ("alice", "dave", "erin")
    assert shared.candidate_groups == ("finance_reviewer", "cashier")


def test_activiti_dialect():
    instance = Instance(load("assign_activiti.bpmn"))
    result = instance.start(initiator="fozzie")
    assert result.variables["applicant"] == "fozzie"
    approve = instance.task_at("approve")
    assert approve.assignee == "kermit"
    assert approve.candidate_groups == ("management", "accountancy")
    assert approve.due_at == NOW + timedelta(hours=2)
    assert approve.priority == 80
    assert approve.form_key == "approve.form"

    instance.complete("approve", {"reviewers": ["gonzo", "piggy"], "dueDate": "P1DT6H"})
    confirm = instance.task_at("confirm")
    assert confirm.assignee == "fozzie"
    assert confirm.candidate_users == ("gonzo", "piggy")
    assert confirm.due_at == NOW + timedelta(days=1, hours=6)


def test_flowable_dialect():
    instance = Instance(load("assign_flowable.bpmn"))
    result = instance.start(
        {"manager": "bob", "department": "sales", "due": "2024-03-08",
         "formName": "review-form", "urgent": True, "backupUsers": "carol,dave"},
        initiator="alice",
    )
    assert result.variables["initiator"] == "alice"
    review = instance.task_at("manager_review")
    assert review.assignee == "bob"
    assert review.candidate_groups == ("sales_managers",)
    assert review.due_at == datetime(2024, 3, 8, tzinfo=UTC)
    assert review.form_key == "review-form"
    assert review.priority == 90
    instance.complete("manager_review")
    check = instance.task_at("self_check")
    assert check.assignee == "alice"
    assert check.candidate_users == ("carol", "dave")


def test_camunda8_zeebe_dialect():
    instance = Instance(load("assign_zeebe.bpmn"))
    instance.start({"amount": 5000, "approver": "dave", "deadline": "PT30M"},
                   initiator="erin")
    static = instance.task_at("static")
    assert static.assignee == "demo"
    assert static.candidate_groups == ("sales", "finance")
    assert static.due_at == datetime(2031, 1, 15, 10, 0, tzinfo=UTC)
    assert static.form_key == "invoice-form"
    assert static.priority == 70
    instance.complete("static")
    dynamic = instance.task_at("dynamic")
    assert dynamic.assignee == "erin"
    assert dynamic.candidate_users == ("alice", "dave")
    assert dynamic.candidate_groups == ("finance_director",)
    assert dynamic.due_at == NOW + timedelta(minutes=30)
    assert dynamic.form_key == "camunda-forms:bpmn:UserTaskForm_1"


def test_bpmn_resource_roles():
    instance = Instance(load("assign_resource_roles.bpmn"))
    instance.start({"role": "auditors"}, initiator="alice")
    performer = instance.task_at("performer")
    assert performer.assignee == "kermit"
    assert performer.candidate_users == ("gonzo",)
    assert performer.candidate_groups == ("management", "accountancy")
    instance.complete("performer")
    dynamic = instance.task_at("dynamic")
    assert dynamic.assignee == "alice"
    assert dynamic.candidate_users == ("fozzie",)
    assert dynamic.candidate_groups == ("auditors",)


def test_initiator_is_available_even_without_an_initiator_attribute():
    instance = Instance(load("assign_zeebe.bpmn"))
    result = instance.start({"deadline": None, "amount": 1}, initiator="zoe")
    assert "initiator" not in result.variables
    instance.complete("static")
    assert instance.task_at("dynamic").assignee == "zoe"
    assert instance.task_at("dynamic").due_at is None  # a null due date means none


def test_a_variable_named_initiator_wins_over_the_starting_user():
    instance = Instance(load("assign_camunda7.bpmn"))
    instance.start({"initiator": "on-behalf-of", "priority": 1}, initiator="alice")
    assert instance.task_at("own").assignee == "on-behalf-of"


@pytest.mark.parametrize(
    ("deadline", "expected"),
    [
        ("P1D", NOW + timedelta(days=1)),
        ("PT12H", NOW + timedelta(hours=12)),
        ("P1M", datetime(2024, 4, 1, 9, 0, tzinfo=UTC)),
        ("2024-04-01T08:30:00Z", datetime(2024, 4, 1, 8, 30, tzinfo=UTC)),
        ("2024-04-01T08:30:00", datetime(2024, 4, 1, 8, 30, tzinfo=UTC)),
        (date(2024, 4, 2), datetime(2024, 4, 2, tzinfo=UTC)),
        (datetime(2024, 4, 2, 10, 0, tzinfo=UTC), datetime(2024, 4, 2, 10, 0, tzinfo=UTC)),
    ],
)
def test_due_date_from_an_expression(deadline, expected):
    instance = Instance(load("assign_camunda7.bpmn"))
    instance.start({"priority": 1})
    instance.complete("own", {"deadline": deadline, "extraUser": "x", "roles": "y"})
    assert instance.task_at("shared").due_at == expected


def test_a_due_date_that_is_neither_date_nor_duration_is_an_expression_failure():
    graph = load("assign_camunda7.bpmn")
    instance = Instance(graph)
    instance.start({"priority": 1})
    task = instance.task_at("own")
    with pytest.raises(ExpressionFailed) as caught:
        complete_task(graph, instance.result.state, task.id, variables={"deadline": "soon"},
                      actor="bob", now=NOW, new_id=Ids())
    assert caught.value.element_id == "shared"


def test_a_priority_that_is_not_a_whole_number_is_refused():
    graph = load("assign_camunda7.bpmn")
    with pytest.raises(ExpressionFailed) as caught:
        start(graph, {"priority": "high"}, initiator="a", now=NOW, new_id=Ids())
    assert caught.value.element_id == "own"


def test_the_demo_expense_model():
    from bpm_process.engine import compile_bpmn
    from bpm_process.engine.bench import demo_model

    graph = compile_bpmn(demo_model())
    assert graph.id == "expense-reimbursement"
    instance = Instance(graph)
    result = instance.start({"amount": 7200}, initiator="alice")
    assert result.variables["initiator"] == "alice"
    review = instance.task_at("department_review")
    assert review.candidate_users == ("bob",)
    assert review.due_at == NOW + timedelta(days=1)
    instance.complete("department_review")
    assert instance.task_at("finance_review").candidate_groups == ("finance_reviewer",)
    instance.complete("finance_review", actor="carol")
    director = instance.task_at("director_approval")
    assert director.candidate_groups == ("finance_director",)
    instance.complete("director_approval", actor="dave")
    cashier = instance.task_at("cashier_payment")
    assert cashier.candidate_groups == ("cashier",)
    assert cashier.due_at == NOW + timedelta(hours=12)
    assert instance.complete("cashier_payment", actor="erin").status == "completed"

    small = Instance(graph)
    small.start({"amount": 120})
    small.complete("department_review")
    assert small.complete("finance_review").active_nodes == ("cashier_payment",)


def test_a_resource_role_that_references_a_resource_offers_the_task_to_that_group():
    """BPMN's own form, as the MIWG invoice models write it: `<potentialOwner>` with a
    `<resourceRef>` to a `<resource name="Approver"/>` at the top of the document."""
    graph = model(
        '<startEvent id="s"/><userTask id="approve"><potentialOwner>'
        '<resourceRef>Resource_Approver</resourceRef></potentialOwner>'
        '<potentialOwner><resourceRef>Resource_Odd</resourceRef></potentialOwner></userTask>'
        '<endEvent id="e"/>' + flows("s>approve", "approve>e"),
        roots='<resource id="Resource_Approver" name="Approver"/><resource id="Resource_Odd" name="A, B"/>')
    instance = Instance(graph)
    instance.start()
    task = instance.task_at("approve")
    assert task.assignee is None and task.candidate_users == ()
    assert task.candidate_groups == ("Approver", "Resource_Odd"), "its name, or its id when the name is no group"
