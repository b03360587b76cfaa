"""Inclusive gateways (fork with conditions and default; a join that waits only for
tokens that can still arrive) and event-based gateways (a race of catch events)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bpm_process.engine import NoPathFound, SubscriptionNotFound

from .support import NOW, Instance, event_types, flows, model, trace

INCLUSIVE = model(
    '<startEvent id="start"/>'
    '<inclusiveGateway id="fork" default="f_default"/>'
    '<userTask id="legal"/><userTask id="finance"/><userTask id="plain"/>'
    '<inclusiveGateway id="join"/><userTask id="after"/><endEvent id="end"/>'
    '<sequenceFlow id="f0" sourceRef="start" targetRef="fork"/>'
    '<sequenceFlow id="f_legal" sourceRef="fork" targetRef="legal">'
    "<conditionExpression>${contract}</conditionExpression></sequenceFlow>"
    '<sequenceFlow id="f_fin" sourceRef="fork" targetRef="finance">'
    "<conditionExpression>${amount &gt; 1000}</conditionExpression></sequenceFlow>"
    '<sequenceFlow id="f_default" sourceRef="fork" targetRef="plain"/>'
    '<sequenceFlow id="j1" sourceRef="legal" targetRef="join"/>'
    '<sequenceFlow id="j2" sourceRef="finance" targetRef="join"/>'
    '<sequenceFlow id="j3" sourceRef="plain" targetRef="join"/>'
    '<sequenceFlow id="a" sourceRef="join" targetRef="after"/>'
    '<sequenceFlow id="b" sourceRef="after" targetRef="end"/>'
)


def test_inclusive_fork_takes_every_true_flow_and_the_join_waits_for_both():
    instance = Instance(INCLUSIVE)
    result = instance.start({"contract": True, "amount": 5000})
    assert result.active_nodes == ("legal", "finance")
    result = instance.complete("legal")
    assert result.active_nodes == ("finance", "join")
    result = instance.complete("finance")
    assert result.active_nodes == ("after",)
    assert [n for t, n in trace(result) if t == "activity_completed"] == ["finance", "join"]
    assert instance.complete("after").status == "completed"


def test_inclusive_join_fires_at_once_when_only_one_branch_was_taken():
    instance = Instance(INCLUSIVE)
    assert instance.start({"contract": True, "amount": 10}).active_nodes == ("legal",)
    assert instance.complete("legal").active_nodes == ("after",)


def test_inclusive_fork_takes_the_default_when_no_condition_holds():
    instance = Instance(INCLUSIVE)
    assert instance.start({"contract": False, "amount": 10}).active_nodes == ("plain",)
    assert instance.complete("plain").active_nodes == ("after",)


def test_inclusive_fork_without_default_and_no_true_condition_is_refused():
    graph = model(
        '<startEvent id="s"/><inclusiveGateway id="g"/><userTask id="a"/><endEvent id="e"/>'
        '<sequenceFlow id="f1" sourceRef="s" targetRef="g"/>'
        '<sequenceFlow id="f2" sourceRef="g" targetRef="a">'
        "<conditionExpression>${x}</conditionExpression></sequenceFlow>"
        '<sequenceFlow id="f3" sourceRef="a" targetRef="e"/>'
    )
    with pytest.raises(NoPathFound) as caught:
        Instance(graph).start({"x": False})
    assert caught.value.element_id == "g"


def test_inclusive_join_waits_for_a_token_still_upstream_in_a_longer_branch():
    graph = model(
        '<startEvent id="s"/><parallelGateway id="fork"/>'
        '<userTask id="a1"/><userTask id="a2"/><userTask id="b"/>'
        '<inclusiveGateway id="join"/><endEvent id="e"/>'
        + flows("s>fork", "fork>a1", "a1>a2", "a2>join", "fork>b", "b>join", "join>e")
    )
    instance = Instance(graph)
    instance.start()
    # b arrives first; a2 is still reachable from a1, so the join waits
    assert instance.complete("b").active_nodes == ("a1", "join")
    assert instance.complete("a1").active_nodes == ("join", "a2")
    assert instance.complete("a2").status == "completed"
    assert sorted(graph.inclusive_upstream["join"]) == ["a1", "a2", "b", "fork", "s"]


def test_inclusive_join_fires_when_the_other_branch_ends_elsewhere():
    graph = model(
        '<startEvent id="s"/><parallelGateway id="fork"/>'
        '<userTask id="a"/><exclusiveGateway id="x" default="xd"/><userTask id="b"/>'
        '<inclusiveGateway id="join"/><endEvent id="e"/><endEvent id="e2"/>'
        '<userTask id="after"/>'
        '<sequenceFlow id="f1" sourceRef="s" targetRef="fork"/>'
        '<sequenceFlow id="f2" sourceRef="fork" targetRef="a"/>'
        '<sequenceFlow id="f3" sourceRef="fork" targetRef="b"/>'
        '<sequenceFlow id="f4" sourceRef="a" targetRef="x"/>'
        '<sequenceFlow id="xj" sourceRef="x" targetRef="join">'
        "<conditionExpression>${go}</conditionExpression></sequenceFlow>"
        '<sequenceFlow id="xd" sourceRef="x" targetRef="e2"/>'
        '<sequenceFlow id="f5" sourceRef="b" targetRef="join"/>'
        '<sequenceFlow id="f6" sourceRef="join" targetRef="after"/>'
        '<sequenceFlow id="f7" sourceRef="after" targetRef="e"/>'
    )
    instance = Instance(graph)
    instance.start({"go": False})
    assert instance.complete("b").active_nodes == ("a", "join")
    # a's token ends at e2 instead: nothing can reach the join any more, it fires
    result = instance.complete("a")
    assert result.active_nodes == ("after",)


EVENT_GATEWAY = model(
    '<startEvent id="s"/><eventBasedGateway id="race"/>'
    '<intermediateCatchEvent id="paid"><messageEventDefinition messageRef="m"/>'
    "</intermediateCatchEvent>"
    '<intermediateCatchEvent id="cancelled"><signalEventDefinition signalRef="sig"/>'
    "</intermediateCatchEvent>"
    '<intermediateCatchEvent id="timeout"><timerEventDefinition>'
    "<timeDuration>P3D</timeDuration></timerEventDefinition></intermediateCatchEvent>"
    '<userTask id="ship"/><userTask id="refund"/><userTask id="remind"/>'
    '<endEvent id="e1"/><endEvent id="e2"/><endEvent id="e3"/>'
    + flows("s>race", "race>paid", "race>cancelled", "race>timeout", "paid>ship",
            "cancelled>refund", "timeout>remind", "ship>e1", "refund>e2", "remind>e3"),
    roots='<message id="m" name="payment received" bpm:correlationKey="${orderId}"/>'
          '<signal id="sig" name="order cancelled"/>',
)


def test_event_gateway_opens_one_subscription_or_job_per_event():
    instance = Instance(EVENT_GATEWAY)
    result = instance.start({"orderId": "o-7"})
    assert result.active_nodes == ("race",)
    (job,) = result.jobs
    assert job.node == "timeout" and job.due_at == NOW + timedelta(days=3)
    subs = {sub.node: sub for sub in result.subscriptions_opened}
    assert subs["paid"].name == "payment received"
    assert subs["paid"].correlation_key == "o-7"
    assert subs["cancelled"].kind == "signal" and subs["cancelled"].name == "order cancelled"
    assert set(result.state.subscriptions) == set(subs.values())


def test_first_event_wins_and_closes_the_others():
    instance = Instance(EVENT_GATEWAY)
    start = instance.start({"orderId": "o-7"})
    result = instance.correlate("payment received", "o-7", {"paidAmount": 12})
    assert result.active_nodes == ("ship",)
    assert result.cancelled_jobs == (start.jobs[0].id,)
    assert set(result.subscriptions_closed) == {s.id for s in start.subscriptions_opened}
    assert result.state.jobs == () and result.state.subscriptions == ()
    assert result.variables["paidAmount"] == 12
    assert trace(result)[:4] == [
        ("event_triggered", "paid"), ("activity_completed", "race"),
        ("activity_started", "paid"), ("activity_completed", "paid")]
    with pytest.raises(SubscriptionNotFound):
        instance.signal("order cancelled")


def test_the_timer_can_win_the_race():
    instance = Instance(EVENT_GATEWAY)
    instance.start({"orderId": "o-7"})
    result = instance.fire("timeout")
    assert result.active_nodes == ("remind",)
    assert len(result.subscriptions_closed) == 2
    assert "event_triggered" in event_types(result)


def test_a_signal_can_win_the_race():
    instance = Instance(EVENT_GATEWAY)
    instance.start({"orderId": "o-7"})
    assert instance.signal("order cancelled").active_nodes == ("refund",)


def test_a_message_with_another_correlation_key_does_not_match():
    instance = Instance(EVENT_GATEWAY)
    instance.start({"orderId": "o-7"})
    with pytest.raises(SubscriptionNotFound):
        instance.correlate("payment received", "o-8")
