"""Messages and signals from outside: correlation by key and business key, message start
events, ambiguity and unknown messages, signal broadcasts and signal start events."""

from __future__ import annotations

from typing import Any

from tests.runtime.conftest import MODELS


def _sender(runtime) -> dict[str, str]:
    return runtime.auth("erp-bot", "worker")


def _admin(runtime) -> dict[str, str]:
    return runtime.auth("admin", "admin")


async def _start(runtime, key: str, business_key: str | None = None, **variables: Any) -> str:
    r = await runtime.client.post(
        "/api/v1/process-instances",
        json={"definition_key": key, "business_key": business_key, "variables": variables},
        headers=runtime.auth("alice"),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _instance(runtime, instance_id: str) -> dict[str, Any]:
    return (await runtime.client.get(f"/api/v1/process-instances/{instance_id}", headers=_admin(runtime))).json()


async def _send(runtime, **body: Any) -> Any:
    return await runtime.client.post("/api/v1/messages", json=body, headers=_sender(runtime))


async def test_a_message_reaches_the_instance_waiting_with_its_correlation_key(runtime):
    await runtime.publish((MODELS / "messages-wait.bpmn").read_bytes(), "order-wait")
    first = await _start(runtime, "order-wait", orderId="A-1")
    second = await _start(runtime, "order-wait", orderId="A-2")
    r = await _send(runtime, name="payment-received", correlation_key="A-2", variables={"paid": 99.95})
    assert r.status_code == 200, r.text
    assert r.json()["result_type"] == "correlated"
    assert [i["id"] for i in r.json()["instances"]] == [second]
    view = await _instance(runtime, second)
    assert view["state"] == "completed" and str(view["variables"]["paid"]) == "99.95"
    assert (await _instance(runtime, first))["state"] == "active"
    trail = (await runtime.client.get(f"/api/v1/process-instances/{second}/history", headers=_admin(runtime))).json()
    [received] = [e for e in trail["items"] if e["action"] == "message_received"]
    assert received["actor"] == "erp-bot" and received["node_id"] == "wait_payment"
    assert received["details"]["variables"] == {"paid": 99.95}, "what the message set"
    assert received["details"]["variables_before"] == {"paid": None}
    assert (await _send(runtime, name="payment-received", correlation_key="A-2")).status_code == 404


async def test_the_business_key_picks_the_instance_and_several_matches_need_all(runtime):
    await runtime.publish((MODELS / "messages-wait.bpmn").read_bytes(), "order-wait")
    one = await _start(runtime, "order-wait", "BK-1", orderId="same")
    two = await _start(runtime, "order-wait", "BK-2", orderId="same")
    ambiguous = await _send(runtime, name="payment-received", correlation_key="same")
    assert ambiguous.status_code == 409
    assert ambiguous.headers["content-type"] == "application/problem+json"
    assert ambiguous.json()["errors"][0]["field"] == "correlation_key"
    by_key = await _send(runtime, name="payment-received", business_key="BK-1")
    assert [i["id"] for i in by_key.json()["instances"]] == [one]
    three = await _start(runtime, "order-wait", "BK-3", orderId="same")
    both = await _send(runtime, name="payment-received", correlation_key="same", all=True)
    assert both.status_code == 200
    assert sorted(i["id"] for i in both.json()["instances"]) == sorted([two, three])


async def test_a_message_nobody_waits_for_starts_the_process_with_that_message_start_event(runtime):
    await runtime.publish((MODELS / "messages-start.bpmn").read_bytes(), "lead-intake")
    r = await _send(runtime, name="new-lead", business_key="LEAD-9", variables={"company": "Initech"})
    assert r.status_code == 201, r.text
    [started] = r.json()["instances"]
    assert r.json()["result_type"] == "started" and started["active_nodes"] == ["call_lead"]
    view = await _instance(runtime, started["id"])
    assert view["business_key"] == "LEAD-9" and view["variables"]["company"] == "Initech"
    assert view["initiator"] == "erp-bot"


async def test_an_unknown_message_is_404_and_only_workers_send_messages(runtime):
    r = await _send(runtime, name="nobody-listens")
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "name"
    refused = await runtime.client.post("/api/v1/messages", json={"name": "x"}, headers=runtime.auth("alice"))
    assert refused.status_code == 403
    invalid = await _send(runtime, name="")
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "name"


async def test_a_retried_message_with_an_idempotency_key_is_delivered_once(runtime):
    await runtime.publish((MODELS / "messages-start.bpmn").read_bytes(), "lead-intake")
    headers = {**_sender(runtime), "Idempotency-Key": "lead-42"}
    first = await runtime.client.post("/api/v1/messages", json={"name": "new-lead"}, headers=headers)
    again = await runtime.client.post("/api/v1/messages", json={"name": "new-lead"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    listed = (await runtime.client.get("/api/v1/process-instances?definition_key=lead-intake",
                                       headers=_admin(runtime))).json()["items"]
    assert len(listed) == 1


async def test_a_signal_reaches_every_waiting_instance_and_starts_processes(runtime):
    await runtime.publish((MODELS / "messages-signal.bpmn").read_bytes(), "recall-wait")
    await runtime.publish((MODELS / "messages-signal-start.bpmn").read_bytes(), "recall-handling")
    waiting = [await _start(runtime, "recall-wait") for _ in range(2)]
    r = await runtime.client.post("/api/v1/signals", json={"name": "product-recall", "variables": {"batch": "B-3"}},
                                  headers=_sender(runtime))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reached"] == 3
    assert sorted(body["instances_signalled"]) == sorted(waiting)
    for instance_id in waiting:
        assert (await _instance(runtime, instance_id))["state"] == "completed"
        trail = (await runtime.client.get(f"/api/v1/process-instances/{instance_id}/history",
                                          headers=_admin(runtime))).json()["items"]
        [received] = [e for e in trail if e["action"] == "signal_received"]
        assert received["details"]["variables"] == {"batch": "B-3"}
    [started] = body["instances_started"]
    view = await _instance(runtime, started)
    assert view["definition_key"] == "recall-handling" and view["variables"] == {"batch": "B-3"}
    nobody = await runtime.client.post("/api/v1/signals", json={"name": "product-recall"}, headers=_sender(runtime))
    assert nobody.json()["reached"] == 1, "only the signal start event is left"
