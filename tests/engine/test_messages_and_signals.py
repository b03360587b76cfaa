"""Message and signal events: start events, catch events, receive tasks, boundary
events, throws, correlation keys from every dialect, and the subscription records."""

from __future__ import annotations

import pytest

from bpm_process.engine import (
    SubscriptionNotFound,
    correlate_message,
    message_start_events,
    signal_start_events,
)
from bpm_process.engine.events import MessageThrown, SignalThrown

from .support import NOW, Instance, flows, model, trace

ROOTS = (
    '<message id="m_paid" name="paid"/>'
    '<message id="m_dyn" name="${kind}-update"/>'
    '<message id="m_zeebe" name="shipped"><extensionElements>'
    '<zeebe:subscription correlationKey="=orderId"/></extensionElements></message>'
    '<signal id="s_stop" name="stop"/>'
)


def test_message_and_signal_start_events_are_listed():
    graph = model(
        '<startEvent id="by_message"><messageEventDefinition messageRef="m_paid"/></startEvent>'
        '<startEvent id="by_signal"><signalEventDefinition signalRef="s_stop"/></startEvent>'
        '<userTask id="t"/><endEvent id="e"/>' + flows("by_message>t", "by_signal>t", "t>e"),
        roots=ROOTS,
    )
    assert message_start_events(graph) == {"paid": "by_message"}
    assert signal_start_events(graph) == {"stop": "by_signal"}
    result = Instance(graph).start({"amount": 3}, start_event_id="by_message")
    assert result.active_nodes == ("t",) and result.variables["amount"] == 3


def test_receive_task_waits_with_a_zeebe_correlation_key_and_stores_the_payload():
    graph = model('<startEvent id="s"/><receiveTask id="wait" messageRef="m_zeebe"/>'
                  '<endEvent id="e"/>' + flows("s>wait", "wait>e"), roots=ROOTS)
    instance = Instance(graph)
    result = instance.start({"orderId": "A-1"})
    (sub,) = result.subscriptions_opened
    assert (sub.kind, sub.name, sub.node, sub.correlation_key) == ("message", "shipped",
                                                                    "wait", "A-1")
    result = instance.call(correlate_message, sub.id, variables={"carrier": "DHL"})
    assert result.status == "completed"
    assert result.variables["carrier"] == "DHL"
    assert result.subscriptions_closed == (sub.id,)
    assert result.state.completed == ("wait",)


def test_message_name_may_be_an_expression():
    graph = model(
        '<startEvent id="s"/><intermediateCatchEvent id="c">'
        '<messageEventDefinition messageRef="m_dyn"/></intermediateCatchEvent>'
        '<endEvent id="e"/>' + flows("s>c", "c>e"), roots=ROOTS)
    instance = Instance(graph)
    (sub,) = instance.start({"kind": "price"}).subscriptions_opened
    assert sub.name == "price-update" and sub.correlation_key is None
    with pytest.raises(SubscriptionNotFound):
        instance.correlate("price-update", "k")
    assert instance.correlate("price-update").status == "completed"


BOUNDARY = (
    '<startEvent id="s"/><userTask id="work"/><endEvent id="e"/>'
    '<boundaryEvent id="changed" attachedToRef="work" cancelActivity="false">'
    '<messageEventDefinition messageRef="m_paid"/></boundaryEvent>'
    '<boundaryEvent id="stopped" attachedToRef="work">'
    '<signalEventDefinition signalRef="s_stop"/></boundaryEvent>'
    '<userTask id="note"/><endEvent id="e2"/><userTask id="cleanup"/><endEvent id="e3"/>'
    + flows("s>work", "work>e", "changed>note", "note>e2", "stopped>cleanup", "cleanup>e3")
)


def test_non_interrupting_message_boundary_keeps_the_task_and_can_fire_again():
    instance = Instance(model(BOUNDARY, roots=ROOTS))
    result = instance.start()
    assert {s.node for s in result.subscriptions_opened} == {"changed", "stopped"}
    instance.correlate("paid")
    result = instance.correlate("paid")
    assert sorted(result.active_nodes) == ["note", "work"]
    assert len(instance.tasks_at("note")) == 2
    assert len(result.state.subscriptions) == 2


def test_interrupting_signal_boundary_cancels_the_task_and_its_other_subscriptions():
    instance = Instance(model(BOUNDARY, roots=ROOTS))
    instance.start()
    result = instance.signal("stop", {"why": "recall"})
    assert result.active_nodes == ("cleanup",)
    assert ("task_cancelled", "work") in trace(result)
    assert result.state.subscriptions == ()
    assert len(result.subscriptions_closed) == 2
    assert result.variables["why"] == "recall"


def test_signal_reaches_every_waiting_element_of_the_instance():
    graph = model(
        '<startEvent id="s"/><parallelGateway id="fork"/>'
        '<intermediateCatchEvent id="c1"><signalEventDefinition signalRef="s_stop"/>'
        '</intermediateCatchEvent><intermediateCatchEvent id="c2">'
        '<signalEventDefinition signalRef="s_stop"/></intermediateCatchEvent>'
        '<parallelGateway id="join"/><endEvent id="e"/>'
        + flows("s>fork", "fork>c1", "fork>c2", "c1>join", "c2>join", "join>e"), roots=ROOTS)
    instance = Instance(graph)
    instance.start()
    assert instance.signal("stop").status == "completed"


def test_throw_events_record_messages_and_signals_for_the_runtime():
    graph = model(
        '<startEvent id="s"/>'
        '<intermediateThrowEvent id="notify"><messageEventDefinition messageRef="m_paid"/>'
        '</intermediateThrowEvent>'
        '<sendTask id="send" messageRef="m_zeebe"/>'
        '<intermediateThrowEvent id="broadcast"><signalEventDefinition signalRef="s_stop"/>'
        '</intermediateThrowEvent>'
        '<endEvent id="e"><messageEventDefinition messageRef="m_paid"/></endEvent>'
        + flows("s>notify", "notify>send", "send>broadcast", "broadcast>e"), roots=ROOTS)
    result = Instance(graph).start({"orderId": "Z-9"})
    assert result.status == "completed"
    thrown = [e for e in result.events if isinstance(e, (MessageThrown, SignalThrown))]
    assert [(type(e).__name__, e.node_id, e.name) for e in thrown] == [
        ("MessageThrown", "notify", "paid"), ("MessageThrown", "send", "shipped"),
        ("SignalThrown", "broadcast", "stop"), ("MessageThrown", "e", "paid")]
    assert thrown[1].correlation_key == "Z-9"
    assert thrown[0].variables == {"orderId": "Z-9"}
    assert thrown[0].to_dict()["type"] == "message_thrown"


def test_bpm_correlation_key_on_the_event_wins():
    graph = model(
        '<startEvent id="s"/><intermediateCatchEvent id="c" bpm:correlationKey="=customer">'
        '<messageEventDefinition messageRef="m_zeebe"/></intermediateCatchEvent>'
        '<endEvent id="e"/>' + flows("s>c", "c>e"), roots=ROOTS)
    (sub,) = Instance(graph).start({"customer": "C-1", "orderId": "O-1"}).subscriptions_opened
    assert sub.correlation_key == "C-1"
    assert NOW  # the module's clock is used by Instance
