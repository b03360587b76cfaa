"""Event sub-processes through the runtime API, with the state read back from PostgreSQL."""

from __future__ import annotations

from tests.bpmn_events.helpers import (
    bpmn,
    complete,
    engine_state,
    esp,
    flows,
    job_rows,
    later,
    message,
    open_nodes,
    run_at,
    signal,
    start,
    sub,
    sub_rows,
    task,
    trail,
    view,
)


def _msg_start(node_id: str, message_ref: str, interrupting: bool) -> str:
    return (f'<startEvent id="{node_id}" isInterrupting="{str(interrupting).lower()}">'
            f'<messageEventDefinition messageRef="{message_ref}"/></startEvent>')


def _timer_start(node_id: str, interrupting: bool, spec: str = "<timeDuration>PT1H</timeDuration>") -> str:
    return (f'<startEvent id="{node_id}" isInterrupting="{str(interrupting).lower()}">'
            f'<timerEventDefinition>{spec}</timerEventDefinition></startEvent>')


async def test_non_interrupting_message_esp_fires_each_time_and_its_subscription_ends_with_the_process(runtime):
    body = (
        '<startEvent id="s"/>' + task("work") + '<endEvent id="e"/>'
        + esp("poked", _msg_start("ps", "m_poke", False), task("look") + '<endEvent id="pe"/>', "ps>look", "look>pe")
        + flows("s>work", "work>e")
    )
    await runtime.publish(bpmn("esp-ni-msg", body), "esp-ni-msg")
    inst = (await start(runtime, "esp-ni-msg"))["id"]
    [sub_row] = await sub_rows(runtime, inst)
    assert sub_row["node_id"] == "ps"
    assert (await message(runtime, "poke")).status_code == 200
    assert (await message(runtime, "poke")).status_code == 200
    assert await open_nodes(runtime, inst) == ["look", "look", "work"]
    assert len(await sub_rows(runtime, inst)) == 1, "the start subscription stays for more messages"
    received = [h for h in await trail(runtime, inst) if h["action"] == "message_received"]
    assert len(received) == 2
    await complete(runtime, inst, "work")
    assert (await view(runtime, inst))["state"] == "active", "waits for the running event sub-processes"
    await complete(runtime, inst, "look")
    await complete(runtime, inst, "look")
    assert (await view(runtime, inst))["state"] == "completed"
    assert await sub_rows(runtime, inst) == []


async def test_interrupting_timer_esp_in_a_sub_process_cancels_it_and_the_parent_goes_on(runtime):
    inner = ('<startEvent id="ss"/><parallelGateway id="fork"/>' + task("a") + task("b")
             + '<parallelGateway id="join"/><endEvent id="se"/>'
             + esp("late", _timer_start("ts", True), task("undo") + '<endEvent id="te"/>', "ts>undo", "undo>te")
             + esp("pk", _msg_start("pks", "m_poke", False), task("look") + '<endEvent id="pke"/>',
                   "pks>look", "look>pke"))
    body = ('<startEvent id="s"/>' + sub("sp", inner, "ss>fork", "fork>a", "fork>b", "a>join", "b>join", "join>se")
            + '<boundaryEvent id="bt" attachedToRef="sp" cancelActivity="false"><timerEventDefinition>'
            '<timeDuration>PT3H</timeDuration></timerEventDefinition></boundaryEvent>'
            + task("after") + '<endEvent id="e"/>' + task("slow") + '<endEvent id="e2"/>'
            + flows("s>sp", "sp>after", "after>e", "bt>slow", "slow>e2"))
    await runtime.publish(bpmn("esp-int-timer", body), "esp-int-timer")
    inst = (await start(runtime, "esp-int-timer"))["id"]
    assert sorted(j["node_id"] for j in await job_rows(runtime, inst)) == ["bt", "ts"]
    assert [s["node_id"] for s in await sub_rows(runtime, inst)] == ["pks"]
    await complete(runtime, inst, "a")
    assert await run_at(runtime, later(hours=2)) == 1
    assert await open_nodes(runtime, inst) == ["undo"]
    assert await sub_rows(runtime, inst) == [], "the other event sub-process of the scope is disarmed"
    assert [j["node_id"] for j in await job_rows(runtime, inst)] == ["bt"]
    await complete(runtime, inst, "undo")
    assert await open_nodes(runtime, inst) == ["after"]
    assert await job_rows(runtime, inst) == [], "the sub-process ended: its boundary timer goes"
    state = await engine_state(runtime, inst)
    assert "scopes" not in state and "jobs" not in state
    await complete(runtime, inst, "after")
    assert (await view(runtime, inst))["state"] == "completed"


async def test_signal_esp_non_interrupting_in_sub_process_then_interrupting_message_at_process_level(runtime):
    inner = ('<startEvent id="ss"/>' + task("a") + '<endEvent id="se"/>'
             + esp("alarm", '<startEvent id="as" isInterrupting="false"><signalEventDefinition signalRef="sig_alarm"/>'
                   '</startEvent>', task("look") + '<endEvent id="ae"/>', "as>look", "look>ae"))
    body = ('<startEvent id="s"/>' + sub("sp", inner, "ss>a", "a>se") + task("after") + '<endEvent id="e"/>'
            + esp("stop", _msg_start("st", "m_stop", True), task("cleanup") + '<endEvent id="ce"/>',
                  "st>cleanup", "cleanup>ce")
            + flows("s>sp", "sp>after", "after>e"))
    await runtime.publish(bpmn("esp-mixed", body), "esp-mixed")
    inst = (await start(runtime, "esp-mixed"))["id"]
    assert sorted(s["node_id"] for s in await sub_rows(runtime, inst)) == ["as", "st"]
    r = await signal(runtime, "alarm")
    assert r.json()["instances_signalled"] == [inst]
    assert await open_nodes(runtime, inst) == ["a", "look"]
    assert (await message(runtime, "stop")).status_code == 200
    assert await open_nodes(runtime, inst) == ["cleanup"]
    assert await sub_rows(runtime, inst) == []
    await complete(runtime, inst, "cleanup")
    v = await view(runtime, inst)
    assert v["state"] == "completed"
    cancelled = sorted(h["node_id"] for h in await trail(runtime, inst) if h["action"] == "task_cancelled")
    assert cancelled == ["a", "look"]


async def test_non_interrupting_timer_cycle_esp_fires_its_repetitions_and_stops_with_the_process(runtime):
    body = ('<startEvent id="s"/>' + task("work") + '<endEvent id="e"/>'
            + esp("nudge", _timer_start("ts", False, "<timeCycle>R3/PT1H</timeCycle>"),
                  task("remind") + '<endEvent id="re"/>', "ts>remind", "remind>re")
            + flows("s>work", "work>e"))
    await runtime.publish(bpmn("esp-cycle", body), "esp-cycle")
    inst = (await start(runtime, "esp-cycle"))["id"]
    assert await run_at(runtime, later(hours=1, minutes=1)) == 1
    assert await open_nodes(runtime, inst) == ["remind", "work"]
    [job] = await job_rows(runtime, inst)
    assert await run_at(runtime, later(hours=1, minutes=1)) == 0
    await complete(runtime, inst, "remind")
    await complete(runtime, inst, "work")
    assert (await view(runtime, inst))["state"] == "completed"
    assert await job_rows(runtime, inst) == []
