"""What-if: the cycle time of a changed model, simulated from recorded durations."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpm_common.ids import new_id
from bpm_process.bpmn import read_definitions
from services.metrics.whatif.model import ModelError, flow_of, parallelize
from services.metrics.whatif.simulate import Recorded, simulate
from tests.metrics.support import Metrics, Run, published

EXPENSE = (
    Path(__file__).resolve().parents[2]
    / "libs/bpm_process/bpm_process/engine/models/expense-reimbursement.bpmn"
)
HOUR = 3600.0
# every claim: department review 1 h, finance review 2 h, cashier 10 min; 3 in 10 also
# go to the finance director (30 min)
DURATIONS = {
    "department_review": [HOUR],
    "finance_review": [2 * HOUR],
    "director_approval": [HOUR / 2],
    "cashier_payment": [HOUR / 6],
}


def expense_flow():
    return flow_of(read_definitions(EXPENSE.read_bytes()).process("expense-reimbursement"))


def recorded(loops: dict[str, int] | None = None) -> Recorded:
    instances = {"department_review": 10, "finance_review": 10, "director_approval": 3}
    instances["cashier_payment"] = 10
    runs = dict(instances) | (loops or {})
    return Recorded(DURATIONS, instances, runs, completed_instances=10)


def test_parallel_reviews_take_the_longer_of_the_two():
    serial = simulate(expense_flow(), recorded(), 2000, seed=5).cycle_seconds
    changed = parallelize(expense_flow(), [["department_review", "finance_review"]])
    side_by_side = simulate(changed, recorded(), 2000, seed=5).cycle_seconds
    assert set(serial) == {3 * HOUR + HOUR / 6, 3.5 * HOUR + HOUR / 6}
    assert set(side_by_side) == {2 * HOUR + HOUR / 6, 2.5 * HOUR + HOUR / 6}
    director_share = sum(1 for c in side_by_side if c > 2.2 * HOUR) / len(side_by_side)
    assert director_share == pytest.approx(0.3, abs=0.04), "3 in 10 claims above 5000"
    assert simulate(changed, recorded(), 2000, seed=5).cycle_seconds == side_by_side


def test_a_change_must_fit_the_model():
    with pytest.raises(ModelError, match="does not directly") as refused:
        parallelize(expense_flow(), [["department_review", "cashier_payment"]])
    assert refused.value.field == "parallelize.0"
    with pytest.raises(ModelError, match="no node 'audit'") as unknown:
        parallelize(expense_flow(), [["finance_review", "amount_check"], ["audit", "x"]])
    assert unknown.value.field == "parallelize.1"


def test_a_loop_is_taken_as_often_as_the_history_shows():
    model = b"""<?xml version="1.0"?>
    <definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
      <process id="fix" isExecutable="true">
        <startEvent id="s"/><userTask id="work"/><exclusiveGateway id="ok"/>
        <intermediateCatchEvent id="pause"><timerEventDefinition>
          <timeDuration>PT30M</timeDuration></timerEventDefinition></intermediateCatchEvent>
        <endEvent id="e"/>
        <sequenceFlow id="f1" sourceRef="s" targetRef="work"/>
        <sequenceFlow id="f2" sourceRef="work" targetRef="ok"/>
        <sequenceFlow id="f3" sourceRef="ok" targetRef="work"/>
        <sequenceFlow id="f4" sourceRef="ok" targetRef="pause"/>
        <sequenceFlow id="f5" sourceRef="pause" targetRef="e"/>
      </process>
    </definitions>"""
    flow = flow_of(read_definitions(model).process("fix"))
    # 100 instances ran `work` 150 times: the loop back is taken 50 times, the way out 100
    history = Recorded({"work": [HOUR]}, {"work": 100}, {"work": 150}, completed_instances=100)
    cycles = simulate(flow, history, 4000, seed=1).cycle_seconds
    mean_runs = sum((c - HOUR / 2) / HOUR for c in cycles) / len(cycles)
    assert mean_runs == pytest.approx(1.5, abs=0.05)


EXPENSE_PARALLEL = (
    EXPENSE.read_text()
    .replace(
        '<bpmn:sequenceFlow id="flow_to_department_review" sourceRef="claim_submitted" '
        'targetRef="department_review" />',
        '<bpmn:parallelGateway id="both" /><bpmn:parallelGateway id="joined" />'
        '<bpmn:sequenceFlow id="a1" sourceRef="claim_submitted" targetRef="both" />'
        '<bpmn:sequenceFlow id="a2" sourceRef="both" targetRef="department_review" />'
        '<bpmn:sequenceFlow id="a3" sourceRef="both" targetRef="finance_review" />'
        '<bpmn:sequenceFlow id="a4" sourceRef="department_review" targetRef="joined" />',
    )
    .replace(
        '<bpmn:sequenceFlow id="flow_to_finance_review" sourceRef="department_review" '
        'targetRef="finance_review" />',
        "",
    )
    .replace(
        'id="flow_to_amount_check" sourceRef="finance_review"',
        'id="flow_to_amount_check" sourceRef="joined"',
    )
    .replace(
        "</bpmn:process>",
        '<bpmn:sequenceFlow id="a5" sourceRef="finance_review" targetRef="joined" />'
        "</bpmn:process>",
    )
)


def expense_model(key: str) -> bytes:
    return EXPENSE.read_bytes().replace(b'id="expense-reimbursement"', f'id="{key}"'.encode())


async def expense_history(metrics: Metrics, key: str) -> None:
    """The model published as version 1, and ten completed claims."""
    events = [published(key, 1, expense_model(key))]
    for i in range(10):
        run = Run(key)
        steps = ["department_review", "finance_review"]
        steps += ["director_approval"] if i < 3 else []
        steps += ["cashier_payment"]
        at = 0.0
        for node in steps:
            task = new_id()
            took = DURATIONS[node][0]
            events += [
                run.task_created(task, node, at_seconds=at),
                run.task_completed(task, node, created_seconds=at, at_seconds=at + took),
            ]
            at += took + 60  # a minute between steps
        events = [*events[:1], run.started(), *events[1:], run.completed(at)]
    assert set(await metrics.deliver(*events)) == {"handled"}


async def what_if(metrics: Metrics, body: dict, status: int = 200) -> dict:
    response = await metrics.client.post(
        "/api/v1/analytics/what-if",
        json=body,
        headers=metrics.client.as_user("olga", "process_owner"),
    )
    assert response.status_code == status, response.text
    return response.json()


async def test_what_if_two_serial_reviews_run_in_parallel(metrics: Metrics):
    key = f"expense-{new_id()[-8:]}"
    await expense_history(metrics, key)
    body = {"key": key, "parallelize": [["department_review", "finance_review"]], "runs": 1000}
    result = await what_if(metrics, body)

    assert (result["version"], result["model_version"], result["runs"], result["seed"]) == (
        1,
        1,
        1000,
        1,
    )
    assert result["recorded"]["count"] == 10
    assert result["recorded"]["median"] == 3 * HOUR + HOUR / 6 + 3 * 60
    assert result["simulated_current"]["median"] == 3 * HOUR + HOUR / 6
    assert result["simulated"]["median"] == 2 * HOUR + HOUR / 6
    assert result["expected_change"]["median"] == -HOUR
    assert result["expected_change"]["mean"] == pytest.approx(-HOUR, abs=0.1 * HOUR)
    assert result["simulated"]["p90"] == 2.5 * HOUR + HOUR / 6
    assert sum(b["count"] for b in result["simulated"]["histogram"]) == 1000
    edges = [(b["lower"], b["upper"]) for b in result["recorded"]["histogram"]]
    assert edges == [(b["lower"], b["upper"]) for b in result["simulated"]["histogram"]]
    assert {(b["target"], round(b["probability"], 2)) for b in result["branches"]} == {
        ("director_approval", 0.3),
        ("cashier_payment", 0.7),
    }
    assert result["unmeasured_nodes"] == []
    assert await what_if(metrics, body) == result, "the same seed, the same answer"

    changed_model = await what_if(
        metrics,
        {
            "key": key,
            "bpmn": EXPENSE_PARALLEL.replace('id="expense-reimbursement"', f'id="{key}"'),
            "runs": 1000,
        },
    )
    assert changed_model["simulated"]["median"] == 2 * HOUR + HOUR / 6
    assert changed_model["simulated"]["p90"] == 2.5 * HOUR + HOUR / 6


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({}, "bpmn"),
        ({"bpmn": "<x/>", "parallelize": [["a", "b"]]}, "bpmn"),
        ({"parallelize": [["department_review", "cashier_payment"]]}, "parallelize.0"),
        ({"parallelize": [["department_review"]]}, "parallelize.0"),
        ({"bpmn": "<definitions>"}, "bpmn"),
        ({"bpmn": "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>"}, "bpmn"),
        ({"parallelize": [["a", "b"]], "runs": 10**9}, "runs"),
        ({"parallelize": [["a", "b"]], "runs": 0}, "runs"),
    ],
)
async def test_what_if_refuses_what_it_cannot_simulate(metrics: Metrics, change: dict, field: str):
    key = f"expense-{new_id()[-8:]}"
    await metrics.deliver(published(key, 1, expense_model(key)))
    problem = await what_if(metrics, {"key": key, **change}, status=422)
    assert field in [e["field"] for e in problem["errors"]]


async def test_a_change_list_needs_a_published_model(metrics: Metrics):
    problem = await what_if(
        metrics, {"key": "never-published", "parallelize": [["a", "b"]]}, status=422
    )
    assert [e["field"] for e in problem["errors"]] == ["parallelize"]
