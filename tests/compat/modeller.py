"""Small models as Camunda Modeler, Flowable and Activiti save them, for these tests."""

from __future__ import annotations


def model(element: str, key: str = "compat") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:activiti="http://activiti.org/bpmn"
  xmlns:flowable="http://flowable.org/bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"/>
    <bpmn:userTask id="First" name="First" camunda:assignee="${{initiator}}"/>
    {element}
    <bpmn:endEvent id="EndEvent_1"/>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="First"/>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="First" targetRef="Subject"/>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Subject" targetRef="EndEvent_1"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()


def gateway(condition: str) -> str:
    """An exclusive gateway `Subject` whose conditional flow `Flow_Cond` is under test."""
    return f"""<bpmn:exclusiveGateway id="Subject" default="Flow_3"/>
    <bpmn:sequenceFlow id="Flow_Cond" sourceRef="Subject" targetRef="EndEvent_2">{condition}</bpmn:sequenceFlow>
    <bpmn:endEvent id="EndEvent_2"/>"""
