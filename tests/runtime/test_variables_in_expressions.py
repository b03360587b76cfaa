"""Variables and expressions through the runtime API, as a client meets them: start with
variables, complete a task, read the instance back, gateways routing on what was sent."""

from __future__ import annotations

from decimal import Decimal

from bpm_common import jsonutil

NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"')
MINE = 'camunda:assignee="${initiator}"'


def _bpmn(key: str, body: str) -> bytes:
    return (f'<?xml version="1.0"?><definitions {NS} id="d" targetNamespace="t">'
            f'<process id="{key}" isExecutable="true"><startEvent id="s"/>'
            f'<sequenceFlow id="f0" sourceRef="s" targetRef="t"/>{body}</process></definitions>').encode()


def _routed(key: str, condition: str) -> bytes:
    """A task, then a gateway: `yes` when `condition` holds, else `no`."""
    return _bpmn(key, (
        f'<userTask id="t" {MINE}/><sequenceFlow id="f1" sourceRef="t" targetRef="g"/>'
        '<exclusiveGateway id="g" default="fno"/>'
        f'<sequenceFlow id="fyes" sourceRef="g" targetRef="yes"><conditionExpression>{condition}'
        '</conditionExpression></sequenceFlow><sequenceFlow id="fno" sourceRef="g" targetRef="no"/>'
        f'<userTask id="yes" {MINE}/><userTask id="no" {MINE}/>'))


def _mapped(key: str, source: str) -> bytes:
    """A task whose output parameter `out` is `source`, then a task `u`."""
    return _bpmn(key, (
        f'<userTask id="t" {MINE}><extensionElements><camunda:inputOutput>'
        f'<camunda:outputParameter name="out">{source}</camunda:outputParameter>'
        '</camunda:inputOutput></extensionElements></userTask>'
        f'<sequenceFlow id="f1" sourceRef="t" targetRef="u"/><userTask id="u" {MINE}/>'))


async def _start(runtime, key: str, variables: dict):
    return await runtime.client.post(
        "/api/v1/process-instances", content=jsonutil.dumps({"definition_key": key, "variables": variables}),
        headers={**runtime.auth("alice"), "Content-Type": "application/json"})


async def _started(runtime, key: str, variables: dict) -> str:
    r = await _start(runtime, key, variables)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _complete(runtime, instance_id: str, variables: dict):
    r = await runtime.client.get("/api/v1/tasks", params={"instance_id": instance_id}, headers=runtime.auth("alice"))
    [task] = r.json()["items"]
    return await runtime.client.post(
        f"/api/v1/tasks/{task['id']}/complete", content=jsonutil.dumps({"variables": variables}),
        headers={**runtime.auth("alice"), "Content-Type": "application/json"})


async def _view(runtime, instance_id: str) -> dict:
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}", headers=runtime.auth("alice"))
    assert r.status_code == 200, r.text
    return jsonutil.loads(r.content)


async def test_an_output_mapping_runs_when_a_task_is_completed_without_variables(runtime):
    """Camunda 7 and 8 evaluate a task's output parameters whenever it completes: an
    approver who just clicks "complete" still sets `out` (they ran only when the
    completion carried variables, and a later `${out ...}` condition saw null)."""
    await runtime.publish(_mapped("out-plain", "${amount * 2}"), "out-plain")
    with_values = await _started(runtime, "out-plain", {"amount": Decimal("0.10")})
    assert (await _complete(runtime, with_values, {"note": "ok"})).status_code == 200
    assert (await _view(runtime, with_values))["variables"]["out"] == Decimal("0.2")

    without = await _started(runtime, "out-plain", {"amount": Decimal("0.10")})
    assert (await _complete(runtime, without, {})).status_code == 200
    assert (await _view(runtime, without))["variables"].get("out") == Decimal("0.2")


async def test_zero_to_a_negative_power_is_refused_instead_of_storing_infinity(runtime):
    await runtime.publish(_mapped("out-inf", "=rate ** -1"), "out-inf")
    instance = await _started(runtime, "out-inf", {"rate": 0})
    done = await _complete(runtime, instance, {"note": "ok"})
    assert done.status_code == 422, done.text  # was 200, with "out": "Infinity" stored
    assert "zero cannot be raised" in done.json()["detail"]
    view = await _view(runtime, instance)
    assert view["active_nodes"] == ["t"] and "out" not in view["variables"]


async def test_text_no_database_can_store_is_refused_with_the_model_not_at_save(runtime):
    """A NUL or a lone surrogate written as an escape in a model's expression made the
    completion that stored it fail in PostgreSQL: a 500 (and a FEEL range as a mapped
    value failed the same way, "cannot store a value of type Range")."""
    for index, source in enumerate(("${'a\\u0000b'}", "${'\\ud800'}", "=[1..3]")):
        key = f"out-unstorable-{index}"
        await runtime.publish(_mapped(key, source), key)
        r = await _start(runtime, key, {})
        assert 400 <= r.status_code < 500, r.text
        assert r.status_code != 201


async def test_a_surrogate_pair_escape_is_stored_as_its_character(runtime):
    await runtime.publish(_mapped("out-emoji", "${'ok \\ud83d\\ude00'}"), "out-emoji")
    instance = await _started(runtime, "out-emoji", {})
    done = await _complete(runtime, instance, {"note": "x"})
    assert done.status_code == 200, done.text  # was a 500 (two lone surrogates)
    assert (await _view(runtime, instance))["variables"]["out"] == "ok \U0001f600"


async def test_approved_sent_as_text_routes_as_the_boolean_it_spells(runtime):
    """`${approved == true}` is how Camunda models test a checkbox; a client or form that
    sends the text "true" takes the same flow as `${approved}` (JUEL coerces the text to a
    boolean: see tests/process/test_expression_values.py)."""
    await runtime.publish(_routed("route-text-bool", "${approved == true}"), "route-text-bool")
    for sent, expected in (("true", ["yes"]), ("false", ["no"]), (True, ["yes"]), ("yes", ["no"])):
        instance = await _started(runtime, "route-text-bool", {})
        done = await _complete(runtime, instance, {"approved": sent})
        assert done.status_code == 200, done.text
        assert (await _view(runtime, instance))["active_nodes"] == expected, sent


async def test_a_variable_named_in_devanagari_is_accepted_and_can_be_routed_on(runtime):
    """The API accepts any identifier as a variable name ("any script"); a model naming
    `राशि` (amount) in a condition was refused: "unexpected character 'ा'"."""
    await runtime.publish(_routed("route-hindi", "${राशि &gt; 5000}"), "route-hindi")
    instance = await _started(runtime, "route-hindi", {"राशि": 6000})
    assert (await _complete(runtime, instance, {})).status_code == 200
    view = await _view(runtime, instance)
    assert view["active_nodes"] == ["yes"] and view["variables"]["राशि"] == 6000
