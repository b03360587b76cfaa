"""Interventions inside embedded sub-processes, multi-instance sub-processes and event
sub-processes."""

from __future__ import annotations

from tests.admin_nested.helpers import act, actions, engine_state, token_at, tokens, verify
from tests.bpmn_events.helpers import (
    bpmn,
    complete,
    esp,
    flows,
    message,
    open_nodes,
    open_tasks,
    start,
    sub,
    sub_rows,
    task,
    trail,
)


def _mi_sub(key: str, sequential: bool) -> bytes:
    mi = (f'<multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}">'
          '<loopCardinality>3</loopCardinality></multiInstanceLoopCharacteristics>')
    inner = '<startEvent id="ss"/>' + task("a") + task("b") + '<endEvent id="se"/>'
    body = (f'<startEvent id="s"/><subProcess id="sp">{mi}{inner}{flows("ss>a", "a>b", "b>se")}</subProcess>'
            + task("next") + '<endEvent id="e"/>' + flows("s>sp", "sp>next", "next>e"))
    return bpmn(key, body)


async def _completed_count(runtime, inst: str, node: str) -> int:
    return len([h for h in await trail(runtime, inst) if h["action"] == "activity_completed"
                and h["node_id"] == node])


async def test_cancel_and_skip_inside_a_parallel_mi_sub_process(runtime):
    await runtime.publish(_mi_sub("mi-par", False), "mi-par")
    inst = (await start(runtime, "mi-par"))["id"]
    assert await open_nodes(runtime, inst) == ["a", "a", "a"]
    a_tasks = await open_tasks(runtime, inst)
    r = await act(runtime, inst, "cancel-token", token_id=next(
        t["id"] for t in (await tokens(runtime, inst))["tokens"] if t["task"] and t["task"]["id"] == str(a_tasks[0]["id"])),
        reason="not needed")
    assert r.status_code == 200, r.text
    assert await open_nodes(runtime, inst) == ["a", "a"]
    r = await act(runtime, inst, "skip", task_id=str(a_tasks[1]["id"]), reason="done elsewhere")
    assert r.status_code == 200, r.text
    assert await open_nodes(runtime, inst) == ["a", "b"]
    await complete(runtime, inst, "a")
    await complete(runtime, inst, "b")
    await complete(runtime, inst, "b")
    assert await open_nodes(runtime, inst) == ["next"]
    state = await engine_state(runtime, inst)
    assert len([t for t in state["tokens"]]) == 1
    await verify(runtime, inst)


async def test_sequential_mi_sub_process_goes_on_after_cancel_and_skip(runtime):
    await runtime.publish(_mi_sub("mi-seq", True), "mi-seq")
    inst = (await start(runtime, "mi-seq"))["id"]
    [a] = await open_tasks(runtime, inst)
    assert (await act(runtime, inst, "skip", task_id=str(a["id"]), reason="r1")).status_code == 200
    assert await open_nodes(runtime, inst) == ["b"]
    tok = await token_at(runtime, inst, "b")
    assert (await act(runtime, inst, "cancel-token", token_id=tok["id"], reason="r2")).status_code == 200
    assert await open_nodes(runtime, inst) == ["a"], "the second instance starts"
    view_ = await tokens(runtime, inst)
    [mi] = [s for s in view_["scopes"] if s["kind"] == "mi"]
    assert mi["variables"]["nrOfCompletedInstances"] == 1
    r = await act(runtime, inst, "skip", token_id=mi["token_id"], reason="whole body")
    assert r.status_code == 200 and r.json()["active_nodes"] == ["next"], r.text
    assert await open_nodes(runtime, inst) == ["next"]
    await verify(runtime, inst)


async def test_move_from_inside_a_mi_sub_process_instance_to_after_it(runtime):
    await runtime.publish(_mi_sub("mi-mv", False), "mi-mv")
    inst = (await start(runtime, "mi-mv"))["id"]
    a_tasks = await open_tasks(runtime, inst)
    tok = next(t for t in (await tokens(runtime, inst))["tokens"] if t["task"] and t["task"]["id"] == str(a_tasks[0]["id"]))
    r = await act(runtime, inst, "move", token_id=tok["id"], to_node="next", reason="shortcut")
    assert r.status_code == 200 and r.json()["active_nodes"] == ["next"], r.text
    assert await open_nodes(runtime, inst) == ["next"]
    state = await engine_state(runtime, inst)
    assert [t["node"] if isinstance(t, dict) else t[1] for t in state["tokens"]] in (["next"], [["next"]]) or len(state["tokens"]) == 1
    assert ("token_moved", "next", "shortcut") in await actions(runtime, inst, "token_moved")
    await verify(runtime, inst)


def _esp_model(key: str, interrupting: bool) -> bytes:
    start_ = (f'<startEvent id="ms" isInterrupting="{str(interrupting).lower()}">'
              '<messageEventDefinition messageRef="m_poke"/></startEvent>')
    inner = ('<startEvent id="ss"/>' + task("a") + '<endEvent id="se"/>'
             + esp("ev", start_, task("h") + '<endEvent id="he"/>', "ms>h", "h>he"))
    body = ('<startEvent id="s"/>' + sub("sp", inner, "ss>a", "a>se") + task("next") + '<endEvent id="e"/>'
            + flows("s>sp", "sp>next", "next>e"))
    return bpmn(key, body)


async def test_non_interrupting_esp_in_sub_process_skip_and_cancel(runtime):
    await runtime.publish(_esp_model("esp-ni", False), "esp-ni")
    inst = (await start(runtime, "esp-ni"))["id"]
    r = await message(runtime, "poke")
    assert r.status_code in (200, 202), r.text
    assert await open_nodes(runtime, inst) == ["a", "h"]
    a = next(t for t in await open_tasks(runtime, inst) if t["node_id"] == "a")
    assert (await act(runtime, inst, "skip", task_id=str(a["id"]), reason="skip a")).status_code == 200
    assert await open_nodes(runtime, inst) == ["h"], "the sub-process waits for its event sub-process"
    h = await token_at(runtime, inst, "h")
    r = await act(runtime, inst, "cancel-token", token_id=h["id"], reason="no handling")
    assert r.status_code == 200 and r.json()["active_nodes"] == ["next"], r.text
    assert await open_nodes(runtime, inst) == ["next"]
    assert await sub_rows(runtime, inst) == [], "the sub-process's subscriptions went with it"
    assert await _completed_count(runtime, inst, "sp") == 1
    await verify(runtime, inst)


async def test_interrupting_esp_in_sub_process_move_out_of_handler(runtime):
    await runtime.publish(_esp_model("esp-i", True), "esp-i")
    inst = (await start(runtime, "esp-i"))["id"]
    r = await message(runtime, "poke")
    assert r.status_code in (200, 202), r.text
    assert await open_nodes(runtime, inst) == ["h"]
    r = await act(runtime, inst, "move", from_node="h", to_node="next", reason="leave handler")
    assert r.status_code == 200 and r.json()["active_nodes"] == ["next"], r.text
    assert await open_nodes(runtime, inst) == ["next"]
    assert await sub_rows(runtime, inst) == []
    await verify(runtime, inst)
