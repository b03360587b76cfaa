"""Every lint rule with a model that breaks it and one that passes it.

The rules are pure functions of the document, so most of these run without a
database; one test goes through the HTTP endpoint.
"""

from __future__ import annotations

import pytest

from services.designer.definitions.lint import RULES, lint
from services.designer.definitions.parsing import Limits
from tests.designer.conftest import CORPUS, SIMPLE, TEMPLATE, linear, process_xml, xml_headers

LIMITS = Limits(max_bytes=5 * 1024 * 1024, max_depth=100)


def findings(data: bytes, rule: str, *, publishing: bool = False) -> list[tuple[str, str | None]]:
    report = lint(data, LIMITS, publishing=publishing)
    return [(f.severity, f.element_id) for f in report.findings if f.rule == rule]


def test_the_demo_process_and_a_minimal_model_are_clean():
    for data in (TEMPLATE.read_bytes(), SIMPLE):
        report = lint(data, LIMITS, publishing=True)
        assert report.valid, report.to_dict()
        assert report.findings == ()


def test_every_rule_of_v1_is_registered():
    assert {
        "bpmn-valid",
        "executable-process",
        "start-event",
        "end-event",
        "reachable",
        "path-to-end",
        "supported-element",
        "condition-syntax",
        "exclusive-gateway-outgoing",
        "user-task-assignment",
        "duplicate-id",
    } <= RULES.keys()


def test_bpmn_valid():
    broken = lint(b"<definitions><oops></definitions>", LIMITS)
    assert not broken.valid
    assert [f.rule for f in broken.errors] == ["bpmn-valid"]
    assert broken.errors[0].line == 1
    assert findings(SIMPLE, "bpmn-valid") == []


def test_executable_process_is_a_warning_on_lint_and_an_error_on_publish():
    draft = process_xml(linear(), executable=False)
    assert findings(draft, "executable-process") == [("warning", "p1")]
    assert findings(draft, "executable-process", publishing=True) == [("error", "p1")]
    assert lint(draft, LIMITS).valid
    assert findings(SIMPLE, "executable-process", publishing=True) == []


def test_start_event():
    none = process_xml(
        '<bpmn:userTask id="t1" camunda:assignee="a"/><bpmn:endEvent id="end"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="t1" targetRef="end"/>'
    )
    assert findings(none, "start-event") == [("error", "p1")]
    two = process_xml(
        linear() + '<bpmn:startEvent id="start2"/>'
        '<bpmn:sequenceFlow id="f3" sourceRef="start2" targetRef="t1"/>'
    )
    assert findings(two, "start-event") == [("error", "start"), ("error", "start2")]
    message_start = process_xml(
        linear().replace(
            '<bpmn:startEvent id="start"/>',
            '<bpmn:startEvent id="start"><bpmn:messageEventDefinition id="m"/></bpmn:startEvent>',
        )
    )
    assert findings(message_start, "start-event") == []
    assert findings(SIMPLE, "start-event") == []


def test_end_event():
    no_end = process_xml(
        '<bpmn:startEvent id="start"/><bpmn:userTask id="t1" camunda:assignee="a"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="t1"/>'
    )
    assert findings(no_end, "end-event") == [("error", "p1")]
    assert findings(no_end, "path-to-end") == []  # said once, by end-event
    assert findings(SIMPLE, "end-event") == []


def test_reachable():
    island = process_xml(
        linear() + '<bpmn:userTask id="island" camunda:assignee="a"/>'
        '<bpmn:sequenceFlow id="f9" sourceRef="island" targetRef="end"/>'
    )
    assert findings(island, "reachable") == [("error", "island")]
    assert findings(SIMPLE, "reachable") == []


def test_path_to_end():
    dead_end = process_xml(
        linear() + '<bpmn:userTask id="stuck" camunda:assignee="a"/>'
        '<bpmn:sequenceFlow id="f9" sourceRef="start" targetRef="stuck"/>'
    )
    assert findings(dead_end, "path-to-end") == [("error", "stuck")]
    loop = process_xml("""
        <bpmn:startEvent id="start"/>
        <bpmn:userTask id="a" camunda:assignee="x"/>
        <bpmn:userTask id="b" camunda:assignee="x"/>
        <bpmn:endEvent id="end"/>
        <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="a"/>
        <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="b"/>
        <bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="a"/>
    """)
    assert findings(loop, "path-to-end") == [("error", "start"), ("error", "a"), ("error", "b")]
    assert findings(SIMPLE, "path-to-end") == []


def test_supported_element_follows_the_engine_list():
    # a service task with no worker topic and no HTTP call cannot run: the engine's own rule says so
    service_task = process_xml(linear('<bpmn:serviceTask id="t1"/>'))
    assert findings(service_task, "supported-element") == [("error", "t1")]
    script = process_xml(
        linear(
            '<bpmn:scriptTask id="s1" scriptFormat="groovy">'
            "<bpmn:script>x</bpmn:script></bpmn:scriptTask>"
        )
    )
    assert findings(script, "supported-element") == [("error", "s1")]
    timer_start = process_xml(
        linear().replace(
            '<bpmn:startEvent id="start"/>',
            '<bpmn:startEvent id="start"><bpmn:timerEventDefinition id="td"/></bpmn:startEvent>',
        )
    )
    assert findings(timer_start, "supported-element") == [("error", "start")], (
        "a timer without a value"
    )
    assert findings(SIMPLE, "supported-element") == []


GATEWAY = """
    <bpmn:startEvent id="start"/>
    <bpmn:exclusiveGateway id="gw" {default}/>
    <bpmn:userTask id="big" camunda:candidateGroups="finance_director"/>
    <bpmn:userTask id="small" camunda:assignee="${{initiator}}"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw"/>
    <bpmn:sequenceFlow id="f_big" sourceRef="gw" targetRef="big">{big}</bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="gw" targetRef="small">{small}</bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="big" targetRef="end"/>
    <bpmn:sequenceFlow id="f4" sourceRef="small" targetRef="end"/>
"""


def gateway(*, default: str = "", big: str = "", small: str = "") -> bytes:
    def cond(text: str) -> str:
        return (
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{text}'
            "</bpmn:conditionExpression>"
            if text
            else ""
        )

    return process_xml(GATEWAY.format(default=default, big=cond(big), small=cond(small)))


def test_condition_syntax_of_flows():
    assert findings(
        gateway(big="${amount &gt;}", small="${amount &lt;= 5000}"), "condition-syntax"
    ) == [("error", "f_big")]
    assert findings(
        gateway(big="=amount &gt; 5000 and", small="=amount &lt;= 5000"), "condition-syntax"
    ) == [("error", "f_big")]
    assert (
        findings(gateway(big="${amount &gt; 5000}", small="=amount &lt;= 5000"), "condition-syntax")
        == []
    )


def test_condition_syntax_refuses_script_languages():
    data = gateway(big="amount > 5000", small="${true}").replace(
        b'xsi:type="bpmn:tFormalExpression">amount', b'language="groovy">amount'
    )
    assert findings(data, "condition-syntax") == [("error", "f_big")]


def test_condition_syntax_of_assignment_expressions():
    broken = process_xml(linear('<bpmn:userTask id="t1" camunda:assignee="${initiator ==}"/>'))
    assert findings(broken, "condition-syntax") == [("error", "t1")]
    broken_list = process_xml(
        linear('<bpmn:userTask id="t1" flowable:candidateUsers="bob, ${(}"/>')
    )
    assert findings(broken_list, "condition-syntax") == [("error", "t1")]
    fine = process_xml(linear('<bpmn:userTask id="t1" camunda:candidateUsers="bob, ${manager}"/>'))
    assert findings(fine, "condition-syntax") == []


def test_exclusive_gateway_outgoing():
    no_conditions = gateway()
    assert findings(no_conditions, "exclusive-gateway-outgoing") == [("error", "gw")]
    one_condition_no_default = gateway(big="${amount &gt; 5000}")
    assert findings(one_condition_no_default, "exclusive-gateway-outgoing") == [("error", "gw")]
    with_default = gateway(default='default="f_small"', big="${amount &gt; 5000}")
    assert findings(with_default, "exclusive-gateway-outgoing") == []
    all_conditions = gateway(big="${amount &gt; 5000}", small="${amount &lt;= 5000}")
    assert findings(all_conditions, "exclusive-gateway-outgoing") == []
    foreign_default = gateway(default='default="f3"', big="${a}", small="${b}")
    assert findings(foreign_default, "exclusive-gateway-outgoing") == [("error", "gw")]


@pytest.mark.parametrize(
    "task",
    [
        '<bpmn:userTask id="t1" camunda:assignee="bob"/>',
        '<bpmn:userTask id="t1" camunda:candidateGroups="cashier"/>',
        '<bpmn:userTask id="t1" activiti:candidateUsers="bob,carol"/>',
        '<bpmn:userTask id="t1" flowable:assignee="${initiator}"/>',
        """<bpmn:userTask id="t1"><bpmn:extensionElements>
             <zeebe:assignmentDefinition candidateGroups="=[&quot;cashier&quot;]"/>
           </bpmn:extensionElements></bpmn:userTask>""",
        """<bpmn:userTask id="t1"><bpmn:potentialOwner><bpmn:resourceAssignmentExpression>
             <bpmn:formalExpression>group(cashier)</bpmn:formalExpression>
           </bpmn:resourceAssignmentExpression></bpmn:potentialOwner></bpmn:userTask>""",
        """<bpmn:userTask id="t1"><bpmn:humanPerformer><bpmn:resourceAssignmentExpression>
             <bpmn:formalExpression>bob</bpmn:formalExpression>
           </bpmn:resourceAssignmentExpression></bpmn:humanPerformer></bpmn:userTask>""",
    ],
    ids=[
        "camunda-assignee",
        "camunda-groups",
        "activiti-users",
        "flowable-expr",
        "zeebe",
        "potential-owner",
        "human-performer",
    ],
)
def test_user_task_assignment_is_found_in_every_dialect(task):
    assert findings(process_xml(linear(task)), "user-task-assignment") == []


def test_user_task_assignment_missing():
    unassigned = process_xml(linear('<bpmn:userTask id="t1" camunda:assignee="  " other="bob"/>'))
    assert findings(unassigned, "user-task-assignment") == [("error", "t1")]
    wrong_namespace = process_xml(
        linear('<bpmn:userTask id="t1" xmlns:x="http://example.com/x" x:assignee="bob"/>')
    )
    assert findings(wrong_namespace, "user-task-assignment") == [("error", "t1")]


def test_duplicate_id():
    twice = process_xml(linear() + '<bpmn:userTask id="t1" camunda:assignee="b"/>')
    report = lint(twice, LIMITS)
    assert [(f.rule, f.element_id) for f in report.errors] == [("duplicate-id", "t1")]
    in_diagram = process_xml(
        linear(),
        extra='<di:BPMNDiagram xmlns:di="http://www.omg.org/spec/BPMN/20100524/DI" id="end"/>',
    )
    assert findings(in_diagram, "duplicate-id") == [("error", "end")]
    assert findings(SIMPLE, "duplicate-id") == []


def test_due_date():
    bad = process_xml(
        linear('<bpmn:userTask id="t1" camunda:assignee="a" camunda:dueDate="one day"/>')
    )
    assert findings(bad, "due-date") == [("error", "t1")]
    for good in ("P1D", "PT12H", "2030-01-01T09:00:00Z", "${deadline}"):
        task = f'<bpmn:userTask id="t1" camunda:assignee="a" camunda:dueDate="{good}"/>'
        assert findings(process_xml(linear(task)), "due-date") == [], good


def test_models_from_other_tools_are_linted_without_crashing():
    for path in sorted(CORPUS.glob("*.bpmn")):
        report = lint(path.read_bytes(), LIMITS)
        assert all(f.rule in RULES for f in report.findings), path.name


async def test_lint_endpoint(client):
    headers = xml_headers(client)
    clean = await client.post(
        "/api/v1/definitions/lint", content=TEMPLATE.read_bytes(), headers=headers
    )
    assert clean.status_code == 200
    assert clean.json() == {"valid": True, "errors": [], "warnings": []}
    unassigned = process_xml(linear('<bpmn:userTask id="t1"/>'), executable=False)
    body = (
        await client.post("/api/v1/definitions/lint", content=unassigned, headers=headers)
    ).json()
    assert body["valid"] is False
    assert body["errors"] == [
        {
            "rule": "user-task-assignment",
            "severity": "error",
            "element_id": "t1",
            "message": body["errors"][0]["message"],
            "line": body["errors"][0]["line"],
        }
    ]
    assert [(w["rule"], w["element_id"]) for w in body["warnings"]] == [
        ("executable-process", "p1")
    ]
    forbidden = await client.post(
        "/api/v1/definitions/lint", content=SIMPLE, headers=xml_headers(client, "alice")
    )
    assert forbidden.status_code == 403


# --- rules added with the builder, forms and the platform extensions ---------------------

TIMER = """
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition><bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>
"""


@pytest.mark.parametrize(
    ("kind", "bad", "good"),
    [
        ("timeDuration", "P1X", "PT1H30M"),
        ("timeDuration", "-PT1H", "${delay}"),
        ("timeDate", "2024-02-30T10:00:00Z", "2024-02-28T10:00:00Z"),
        ("timeDate", "9999-12-31T23:00:00-05:00", "9999-12-31T23:00:00+05:00"),  # past the calendar in UTC
        ("timeCycle", "R3/every-hour", "R3/PT1H"),
        ("timeCycle", "${", "R/2024-01-01T00:00:00Z/P1D"),
    ],
)
def test_timer_value(kind, bad, good):
    failing = process_xml(TIMER.format(kind=kind, value=bad))
    assert findings(failing, "timer-value") == [("error", "wait")]
    passing = process_xml(TIMER.format(kind=kind, value=good))
    assert findings(passing, "timer-value") == []


def _split_join(split: str) -> bytes:
    return process_xml(
        f"""
    <bpmn:startEvent id="start"/>
    <bpmn:{split} id="split" default="f_b"/>
    <bpmn:userTask id="a" camunda:assignee="bob"/>
    <bpmn:userTask id="b" camunda:assignee="bob"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split"/>
    <bpmn:sequenceFlow id="f_a" sourceRef="split" targetRef="a">
      <bpmn:conditionExpression>${{x > 1}}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_b" sourceRef="split" targetRef="b"/>
    <bpmn:sequenceFlow id="f3" sourceRef="a" targetRef="join"/>
    <bpmn:sequenceFlow id="f4" sourceRef="b" targetRef="join"/>
    <bpmn:sequenceFlow id="f5" sourceRef="join" targetRef="end"/>
    """
    )


def test_parallel_join_after_exclusive_split():
    rule = "parallel-join-after-exclusive-split"
    assert findings(_split_join("exclusiveGateway"), rule) == [("error", "join")]
    assert findings(_split_join("parallelGateway").replace(b' default="f_b"', b""), rule) == []


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        ('bpm:assignment="manager:x"', 'bpm:assignment="manager:2, role:finance"'),
        ('bpm:assignment="boss:bob"', 'bpm:assignment="department:sales/role:clerk"'),
        ('bpm:timeLimit="P1Y"', 'bpm:timeLimit="P2D"'),
        (
            'bpm:timeLimit="P1D" bpm:timeoutAction="sleep"',
            'bpm:timeLimit="P1D" bpm:timeoutAction="escalate"',
        ),
        (
            'bpm:timeLimit="P1D" bpm:timeoutAction="reassign"',
            'bpm:timeLimit="P1D" bpm:timeoutAction="reassign" bpm:timeoutReassignTo="role:deputy"',
        ),
        (
            'bpm:remindBefore="PT1H"',
            "bpm:timeLimit=\"${urgent ? 'PT4H' : 'P1D'}\" bpm:remindBefore=\"PT1H\"",
        ),
    ],
)
def test_platform_extensions_follow_the_engine(bad, good):
    task = '<bpmn:userTask id="t1" camunda:assignee="bob" {}/>'
    failing = process_xml(linear(task.format(bad)), extra="").replace(
        b"xmlns:zeebe=", b'xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0" xmlns:zeebe='
    )
    assert findings(failing, "platform-extensions") == [("error", "t1")], bad
    passing = process_xml(linear(task.format(good))).replace(
        b"xmlns:zeebe=", b'xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0" xmlns:zeebe='
    )
    assert findings(passing, "platform-extensions") == [], good


def _bpm(body: str) -> bytes:
    return process_xml(body).replace(
        b"xmlns:zeebe=", b'xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0" xmlns:zeebe='
    )


def test_a_bpm_assignment_is_an_assignment():
    assigned = _bpm(linear('<bpmn:userTask id="t1" bpm:assignment="role:cashier"/>'))
    assert findings(assigned, "user-task-assignment") == []
    assert lint(assigned, LIMITS, publishing=True).valid


def test_raci_and_copy_rules_are_checked():
    raci = """<bpmn:userTask id="t1" bpm:assignment="role:x"><bpmn:extensionElements>
      <bpm:raci><bpm:informed>{}</bpm:informed></bpm:raci></bpmn:extensionElements></bpmn:userTask>"""
    assert findings(_bpm(linear(raci.format("everyone!"))), "platform-extensions") == [
        ("error", "t1")
    ]
    assert findings(_bpm(linear(raci.format("user:alice, role:risk"))), "platform-extensions") == []


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        ('bpm:signMode="all"', 'bpm:approval="true" bpm:signMode="all"'),
        ('bpm:approval="true" bpm:signMode="most"', 'bpm:approval="true" bpm:signMode="any"'),
        (
            'bpm:approval="true" bpm:signMode="ratio" bpm:passRatio="1.5"',
            'bpm:approval="true" bpm:signMode="ratio" bpm:passRatio="0.6"',
        ),
        (
            'bpm:approval="true" bpm:signMode="votes"',
            'bpm:approval="true" bpm:signMode="votes" bpm:passVotes="2"',
        ),
        (
            'bpm:approval="true" bpm:rejectAction="node:nope"',
            'bpm:approval="true" bpm:rejectAction="node:start"',
        ),
    ],
)
def test_approval_settings(bad, good):
    task = '<bpmn:userTask id="t1" camunda:assignee="bob" {}/>'
    assert findings(_bpm(linear(task.format(bad))), "approval-settings") == [("error", "t1")]
    assert findings(_bpm(linear(task.format(good))), "approval-settings") == []


def test_automation_settings():
    task = '<bpmn:serviceTask id="t1" camunda:type="external" camunda:topic="x" {}/>'
    assert findings(_bpm(linear(task.format('bpm:retries="many"'))), "automation-settings") == [
        ("error", "t1")
    ]
    assert findings(
        _bpm(linear(task.format('bpm:retryBackoff="soon"'))), "automation-settings"
    ) == [("error", "t1")]
    assert (
        findings(
            _bpm(linear(task.format('bpm:retries="3" bpm:timeout="PT30S"'))), "automation-settings"
        )
        == []
    )


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        ('{"name": "${name}", "amount": ${amount}}', False),
        ('[${a}, {"${k}": "x ${v} y"}]', False),
        ("name=${name}&amp;amount=${amount}", False),
        ("=order", False),
        ('{"name": ${name}', True),
        ('{${key}: 1}', True),
        ('{"amount": -${amount}}', True),
        ('{"a": ${x +}}', True),
    ],
)
def test_a_json_body_template_that_the_engine_would_refuse_blocks_publication(body, refused):
    task = (
        '<bpmn:serviceTask id="t1"><bpmn:extensionElements><bpm:http method="POST" url="${u}">'
        f"<bpm:body>{body}</bpm:body></bpm:http></bpmn:extensionElements></bpmn:serviceTask>"
    )
    data = _bpm(linear(task))
    assert findings(data, "automation-settings") == ([("error", "t1")] if refused else [])
    if refused:
        (finding,) = [f for f in lint(data, LIMITS).findings if f.rule == "automation-settings"]
        assert finding.message.startswith("bpm:body: ")


def test_every_rule_of_the_issue_is_registered():
    assert {
        "timer-value",
        "parallel-join-after-exclusive-split",
        "platform-extensions",
        "approval-settings",
        "automation-settings",
    } <= RULES.keys()
