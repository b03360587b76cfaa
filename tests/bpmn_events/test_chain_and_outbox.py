"""History chains and outbox events after interrupting events across instances."""

from __future__ import annotations

from sqlalchemy import select

from bpm_common import jsonutil
from tests.bpmn_events.helpers import (
    admin,
    bpmn,
    children,
    complete,
    flows,
    open_nodes,
    signal,
    start,
    sub,
    task,
)


async def _outbox(runtime) -> list[dict]:
    from bpm_common.events.outbox import add_event_tables
    from services.runtime.database import Base

    outbox, _ = add_event_tables(Base.metadata)
    async with runtime.db.connection() as conn:
        rows = (await conn.execute(select(outbox.c.payload).order_by(outbox.c.position))).all()
    return [jsonutil.loads(r.payload) for r in rows]


async def _verify(runtime, instance_id: str) -> dict:
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}/history/verify", headers=admin(runtime))
    assert r.status_code == 200, r.text
    return r.json()


async def test_chains_hold_and_each_instance_tells_its_end_once_after_a_child_error_cancels_siblings(runtime):
    child = bpmn("ch-child", '<startEvent id="cs"/>' + task("prep") + '<exclusiveGateway id="g" default="okf"/>'
                 '<endEvent id="boom"><errorEventDefinition errorRef="err_a"/></endEvent><endEvent id="ok"/>'
                 '<sequenceFlow id="okf" sourceRef="g" targetRef="ok"/>' + flows("cs>prep", "prep>g", "g>boom:${bad}"))
    await runtime.publish(child, "ch-child")
    body = ('<startEvent id="s"/><callActivity id="call" calledElement="ch-child">'
            '<multiInstanceLoopCharacteristics isSequential="false"><loopCardinality>2</loopCardinality>'
            '</multiInstanceLoopCharacteristics></callActivity>'
            '<boundaryEvent id="caught" attachedToRef="call"><errorEventDefinition errorRef="err_a"/></boundaryEvent>'
            + task("handle") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>call", "call>e", "caught>handle", "handle>e2"))
    await runtime.publish(bpmn("ch-parent", body), "ch-parent")
    inst = (await start(runtime, "ch-parent", bad=True))["id"]
    kids = [str(k["id"]) for k in await children(runtime, inst)]
    await complete(runtime, kids[0], "prep")
    assert await open_nodes(runtime, inst) == ["handle"]
    for instance_id in [inst, *kids]:
        assert (await _verify(runtime, instance_id))["valid"] is True, instance_id
    events = await _outbox(runtime)
    for kid in kids:
        ends = [e for e in events if e["subject"] == kid and e["type"] in
                ("bpm.runtime.instance.terminated", "bpm.runtime.instance.completed")]
        assert len(ends) == 1, (kid, [e["type"] for e in ends])
    seqs = [e["sequence"] for e in events if e["subject"] == inst]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


async def test_one_signal_reaching_two_subscriptions_of_one_instance_fires_both_once(runtime):
    inner = ('<startEvent id="ss"/>' + task("a") + '<endEvent id="se"/>'
             '<boundaryEvent id="ab" attachedToRef="a" cancelActivity="false"><signalEventDefinition '
             'signalRef="sig_alarm"/></boundaryEvent>' + task("inner_look") + '<endEvent id="se2"/>')
    body = ('<startEvent id="s"/>' + sub("sp", inner, "ss>a", "a>se", "ab>inner_look", "inner_look>se2")
            + '<boundaryEvent id="sb" attachedToRef="sp" cancelActivity="false"><signalEventDefinition '
              'signalRef="sig_alarm"/></boundaryEvent>'
            + task("outer_look") + task("after") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>sp", "sp>after", "after>e", "sb>outer_look", "outer_look>e2"))
    await runtime.publish(bpmn("sig-two", body), "sig-two")
    inst = (await start(runtime, "sig-two"))["id"]
    r = await signal(runtime, "alarm")
    assert r.json()["instances_signalled"] == [inst]
    assert await open_nodes(runtime, inst) == ["a", "inner_look", "outer_look"]
    assert (await _verify(runtime, inst))["valid"] is True
