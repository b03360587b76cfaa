"""BPMN errors reported by external workers, caught on multi-instance bodies and by event
sub-processes; uncaught ones."""

from __future__ import annotations

from uuid import UUID

from services.runtime.work.models import work_items
from tests.bpmn_events.helpers import (
    _rows,
    bpmn,
    engine_state,
    esp,
    flows,
    job_rows,
    open_nodes,
    start,
    sub,
    task,
    trail,
    view,
)

FETCH = "/api/v1/external-tasks/fetch-and-lock"


def _worker(runtime) -> dict[str, str]:
    return runtime.auth("bot", "worker")


async def _fetch(runtime, topic: str) -> list[dict]:
    r = await runtime.client.post(FETCH, json={"worker_id": "w1", "max_tasks": 10,
                                               "topics": [{"name": topic, "lock_duration_ms": 60_000}]},
                                  headers=_worker(runtime))
    assert r.status_code == 200, r.text
    return r.json()


async def _error(runtime, work_id: str, code: str) -> None:
    r = await runtime.client.post(f"/api/v1/external-tasks/{work_id}/bpmn-error",
                                  json={"worker_id": "w1", "error_code": code, "error_message": "nope"},
                                  headers=_worker(runtime))
    assert r.status_code == 200, r.text


async def _items(runtime, instance_id: str) -> list[str]:
    return sorted(r["state"] for r in await _rows(runtime, work_items, work_items.c.instance_id == UUID(instance_id)))


async def test_worker_error_in_one_instance_of_a_mi_service_task_reaches_the_body_boundary(runtime):
    body = ('<startEvent id="s"/><serviceTask id="book" camunda:type="external" camunda:topic="t-mi">'
            '<multiInstanceLoopCharacteristics isSequential="false"><loopCardinality>3</loopCardinality>'
            '</multiInstanceLoopCharacteristics></serviceTask>'
            '<boundaryEvent id="caught" attachedToRef="book"><errorEventDefinition errorRef="err_a" '
            'camunda:errorCodeVariable="code" camunda:errorMessageVariable="msg"/></boundaryEvent>'
            + task("handle") + '<endEvent id="e"/><endEvent id="e2"/>'
            + flows("s>book", "book>e", "caught>handle", "handle>e2"))
    await runtime.publish(bpmn("w-mi", body), "w-mi")
    inst = (await start(runtime, "w-mi"))["id"]
    items = await _fetch(runtime, "t-mi")
    assert len(items) == 3
    await _error(runtime, items[1]["id"], "A")
    assert await open_nodes(runtime, inst) == ["handle"]
    v = await view(runtime, inst)
    assert v["variables"]["code"] == "A" and v["variables"]["msg"] == "nope"
    assert await _items(runtime, inst) == ["cancelled", "cancelled", "failed"]
    assert "scopes" not in await engine_state(runtime, inst)


async def test_worker_error_caught_by_the_error_esp_of_the_sub_process(runtime):
    inner = ('<startEvent id="ss"/><parallelGateway id="f"/><serviceTask id="book" camunda:type="external" '
             'camunda:topic="t-esp"/>' + task("a") + '<parallelGateway id="j"/><endEvent id="se"/>'
             + esp("onerr", '<startEvent id="es"><errorEventDefinition errorRef="err_b"/></startEvent>',
                   task("fix") + '<endEvent id="fe"/>', "es>fix", "fix>fe"))
    body = ('<startEvent id="s"/>' + sub("sp", inner, "ss>f", "f>book", "f>a", "book>j", "a>j", "j>se")
            + '<boundaryEvent id="tm" attachedToRef="sp" cancelActivity="false"><timerEventDefinition>'
              '<timeDuration>PT4H</timeDuration></timerEventDefinition></boundaryEvent><endEvent id="e3"/>'
            + task("after") + '<endEvent id="e"/>' + flows("s>sp", "sp>after", "after>e", "tm>e3"))
    await runtime.publish(bpmn("w-esp", body), "w-esp")
    inst = (await start(runtime, "w-esp"))["id"]
    [item] = await _fetch(runtime, "t-esp")
    await _error(runtime, item["id"], "B")
    assert await open_nodes(runtime, inst) == ["fix"]
    assert len(await job_rows(runtime, inst)) == 1, "the sub-process still runs (its error handler)"
    from tests.bpmn_events.helpers import complete
    await complete(runtime, inst, "fix")
    assert await open_nodes(runtime, inst) == ["after"]
    assert await job_rows(runtime, inst) == []


async def test_uncaught_worker_error_terminates_and_the_history_names_the_error(runtime):
    body = ('<startEvent id="s"/><serviceTask id="book" camunda:type="external" camunda:topic="t-un"/>'
            '<endEvent id="e"/>' + flows("s>book", "book>e"))
    await runtime.publish(bpmn("w-un", body), "w-un")
    inst = (await start(runtime, "w-un"))["id"]
    [item] = await _fetch(runtime, "t-un")
    await _error(runtime, item["id"], "NOPE")
    assert (await view(runtime, inst))["state"] == "terminated"
    entries = await trail(runtime, inst)
    thrown = [h for h in entries if h["action"] == "work_error_thrown"]
    assert thrown and thrown[0]["details"]["error_code"] == "NOPE"
    assert [h for h in entries if h["action"] == "instance_terminated"][0]["details"]["reason"] == "error_unhandled"
