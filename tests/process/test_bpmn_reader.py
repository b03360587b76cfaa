"""The neutral BPMN reader: prefixes, encodings, nested elements, the MIWG corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpm_process.bpmn import read_definitions
from bpm_process.errors import BpmnError

CORPUS = Path("/work/shared/corpus/bpmn-miwg")
CORPUS_FILES = sorted(CORPUS.glob("*.bpmn"))

SAMPLE = """<?xml version="1.0" encoding="ISO-8859-1"?>
<{p}definitions xmlns{colon}{prefix}="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="t">
  <{p}message id="m1" name="order placed"/>
  <{p}process id="p1" name="Prozess für Änderungen" isExecutable="true">
    <{p}startEvent id="start"><{p}messageEventDefinition messageRef="m1"/></{p}startEvent>
    <{p}exclusiveGateway id="gw" default="f3"/>
    <{p}subProcess id="sub" name="Sub">
      <{p}startEvent id="sub_start"/>
      <{p}userTask id="inner" name="Inner"><{p}documentation>Do it</{p}documentation></{p}userTask>
      <{p}sequenceFlow id="s1" sourceRef="sub_start" targetRef="inner"/>
    </{p}subProcess>
    <{p}boundaryEvent id="timeout" attachedToRef="sub" cancelActivity="false">
      <{p}timerEventDefinition/>
    </{p}boundaryEvent>
    <{p}endEvent id="end"><{p}terminateEventDefinition/></{p}endEvent>
    <{p}sequenceFlow id="f1" sourceRef="start" targetRef="gw"/>
    <{p}sequenceFlow id="f2" name="big" sourceRef="gw" targetRef="sub">
      <{p}conditionExpression xsi:type="{p}tFormalExpression"
          language="juel"> ${{a &gt; 1}} </{p}conditionExpression>
    </{p}sequenceFlow>
    <{p}sequenceFlow id="f3" sourceRef="gw" targetRef="end"/>
    <{p}sequenceFlow id="f4" sourceRef="sub" targetRef="end"/>
  </{p}process>
  <{p}process id="p2"/>
</{p}definitions>
"""


@pytest.mark.parametrize("prefix", ["", "bpmn", "bpmn2", "semantic", "model"])
def test_reads_any_prefix_and_the_declared_encoding(prefix):
    text = SAMPLE.format(p=f"{prefix}:" if prefix else "", colon=":" if prefix else "",
                         prefix=prefix)
    definitions = read_definitions(text.encode("iso-8859-1"))
    assert [p.id for p in definitions.processes] == ["p1", "p2"]
    assert [p.id for p in definitions.executable_processes] == ["p1"]
    process = definitions.process("p1")
    assert process.name == "Prozess für Änderungen"
    assert definitions.messages["m1"].name == "order placed"

    start = process.nodes_by_id["start"]
    assert start.kind == "startEvent"
    assert start.event_definitions == ("message",)
    assert start.outgoing == ("f1",)

    gateway = process.nodes_by_id["gw"]
    assert gateway.default == "f3"
    assert gateway.incoming == ("f1",)
    assert gateway.outgoing == ("f2", "f3")

    sub = process.nodes_by_id["sub"]
    assert [n.id for n in sub.flow_nodes] == ["sub_start", "inner"]
    assert [f.id for f in sub.sequence_flows] == ["s1"]
    assert process.nodes_by_id["inner"].documentation == "Do it"
    assert process.nodes_by_id["inner"].incoming == ("s1",)

    timeout = process.nodes_by_id["timeout"]
    assert timeout.attached_to == "sub"
    assert timeout.cancel_activity is False
    assert timeout.event_definitions == ("timer",)
    assert process.nodes_by_id["end"].event_definitions == ("terminate",)

    flow = process.flows_by_id["f2"]
    assert (flow.source, flow.target, flow.name) == ("gw", "sub", "big")
    assert flow.condition == "${a > 1}"
    assert flow.condition_language == "juel"
    assert process.flows_by_id["f3"].condition is None
    assert [n.id for n in process.iter_flow_nodes()] == [
        "start", "gw", "sub", "sub_start", "inner", "timeout", "end"]
    assert gateway.element is not None and gateway.line is not None


def test_duplicate_and_missing_ids_are_reported_together():
    data = b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <process id="p">
    <task id="a"/><task id="a"/><task/>
    <sequenceFlow id="f" sourceRef="a"/>
  </process>
</definitions>"""
    with pytest.raises(BpmnError) as caught:
        read_definitions(data)
    messages = [entry["message"] for entry in caught.value.errors]
    assert len(messages) == 3
    assert any("used twice" in m for m in messages)
    assert any("has no id" in m for m in messages)
    assert any("sourceRef and targetRef" in m for m in messages)


def test_ids_and_names_longer_than_the_runtime_keeps_are_reported():
    long_id, long_name = "i" * 256, "n" * 501
    data = f"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <message id="m" name="{long_name}"/>
  <process id="p">
    <startEvent id="{long_id}"/><task id="a" name="{long_name}"/><task id="b" name="{"n" * 500}"/>
    <sequenceFlow id="f" sourceRef="a" targetRef="b" name="{long_name}"/>
  </process>
</definitions>""".encode()
    with pytest.raises(BpmnError) as caught:
        read_definitions(data)
    problems = sorted((entry["element_id"], entry["message"]) for entry in caught.value.errors)
    assert problems == sorted([
        ("m", "the name is 501 characters long; at most 500"),
        ("i" * 255, "the id is 256 characters long; at most 255"),
        ("a", "the name is 501 characters long; at most 500"),
        ("f", "the name is 501 characters long; at most 500"),
    ])


def test_the_corpus_is_present():
    assert len(CORPUS_FILES) >= 20


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_every_miwg_reference_model_reads(path):
    definitions = read_definitions(path.read_bytes())
    assert definitions.processes
    for process in definitions.processes:
        for node in process.iter_flow_nodes():
            assert node.id and node.kind
        for flow_id, flow in process.flows_by_id.items():
            assert flow_id == flow.id


def test_latin1_corpus_names_are_decoded():
    definitions = read_definitions((CORPUS / "A.2.0.bpmn").read_bytes())
    names = [node.name for p in definitions.processes for node in p.iter_flow_nodes()]
    assert all(name is None or "\ufffd" not in name for name in names)
