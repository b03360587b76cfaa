"""Message correlation racing a task completion, another message, or a timer."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import eventually
from tests.e2e.races.helpers import Client, actions, check_answers, check_history, race, statuses

pytestmark = pytest.mark.e2e
ROUNDS = 3

BOUNDARY = """
<message id="m_cancel" name="cancel-{key}"/>
<process id="P" name="Task with a message boundary" isExecutable="true">
  <startEvent id="start"/>
  <userTask id="t1" name="T1" camunda:assignee="bob"/>
  <boundaryEvent id="cancelled" attachedToRef="t1">
    <messageEventDefinition messageRef="m_cancel"/>
  </boundaryEvent>
  <userTask id="t2" name="T2" camunda:assignee="carol"/>
  <userTask id="undo" name="Undo" camunda:assignee="dave"/>
  <endEvent id="end"/>
  <endEvent id="end2"/>
  <sequenceFlow id="f1" sourceRef="start" targetRef="t1"/>
  <sequenceFlow id="f2" sourceRef="t1" targetRef="t2"/>
  <sequenceFlow id="f3" sourceRef="cancelled" targetRef="undo"/>
  <sequenceFlow id="f4" sourceRef="t2" targetRef="end"/>
  <sequenceFlow id="f5" sourceRef="undo" targetRef="end2"/>
</process>
"""

EVENT_GATEWAY = """
<message id="m_go" name="go-{key}"/>
<message id="m_stop" name="stop-{key}"/>
<process id="P" name="Event-based gateway" isExecutable="true">
  <startEvent id="start"/>
  <eventBasedGateway id="wait"/>
  <intermediateCatchEvent id="go"><messageEventDefinition messageRef="m_go"/></intermediateCatchEvent>
  <intermediateCatchEvent id="stop"><messageEventDefinition messageRef="m_stop"/></intermediateCatchEvent>
  <intermediateCatchEvent id="late">
    <timerEventDefinition><timeDuration>PT1S</timeDuration></timerEventDefinition>
  </intermediateCatchEvent>
  <userTask id="went" name="Went" camunda:assignee="alice"/>
  <userTask id="stopped" name="Stopped" camunda:assignee="dave"/>
  <userTask id="overdue" name="Overdue" camunda:assignee="erin"/>
  <endEvent id="e1"/>
  <endEvent id="e2"/>
  <endEvent id="e3"/>
  <sequenceFlow id="f0" sourceRef="start" targetRef="wait"/>
  <sequenceFlow id="f1" sourceRef="wait" targetRef="go"/>
  <sequenceFlow id="f2" sourceRef="wait" targetRef="stop"/>
  <sequenceFlow id="f3" sourceRef="wait" targetRef="late"/>
  <sequenceFlow id="f4" sourceRef="go" targetRef="went"/>
  <sequenceFlow id="f5" sourceRef="stop" targetRef="stopped"/>
  <sequenceFlow id="f6" sourceRef="late" targetRef="overdue"/>
  <sequenceFlow id="f7" sourceRef="went" targetRef="e1"/>
  <sequenceFlow id="f8" sourceRef="stopped" targetRef="e2"/>
  <sequenceFlow id="f9" sourceRef="overdue" targetRef="e3"/>
</process>
"""


def _message(gw: Client, name: str, business_key: str, n: int) -> list:
    return [
        gw.post("admin", "/api/v1/messages", {"name": name, "business_key": business_key, "variables": {"m": i}})
        for i in range(n)
    ]


async def test_message_boundary_vs_completion(gw: Client):
    key = await gw.deploy(BOUNDARY, "mb")
    for round_ in range(ROUNDS):
        bk = f"{key}-{round_}"
        inst = await gw.start(key, business_key=bk)
        t1 = await gw.one_task("bob", inst["id"], "t1")
        calls = [gw.post("bob", f"/api/v1/tasks/{t1['id']}/complete") for _ in range(2)]
        answers = await race(*calls, *_message(gw, f"cancel-{key}", bk, 3))
        check_answers(answers, {200, 404, 409})
        assert statuses(answers)[200] == 1, [(r.request.url.path, r.status_code, r.text) for r in answers]
        view = await gw.view(inst["id"])
        assert view["state"] == "active" and len(view["active_nodes"]) == 1 and view["active_nodes"][0] in ("t2", "undo")
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "task_created", "t2")) + len(actions(hist, "task_created", "undo")) == 1


async def test_event_gateway_messages_and_timer(gw: Client):
    key = await gw.deploy(EVENT_GATEWAY, "ebg")
    for round_ in range(ROUNDS * 2):
        bk = f"{key}-{round_}"
        inst = await gw.start(key, business_key=bk)
        await asyncio.sleep(round_ * 0.25)  # aim some rounds near the timer (no timing is asserted)
        answers = await race(*_message(gw, f"go-{key}", bk, 3), *_message(gw, f"stop-{key}", bk, 3))
        check_answers(answers, {200, 404, 409})
        assert statuses(answers)[200] <= 1, [(r.status_code, r.text) for r in answers]

        async def decided(inst: dict = inst) -> dict:
            view = await gw.view(inst["id"])
            nodes = view["active_nodes"]
            assert len(nodes) == 1 and nodes[0] in ("went", "stopped", "overdue"), view
            return view

        view = await eventually(decided, timeout=15)
        if statuses(answers)[200] == 0:
            assert view["active_nodes"] == ["overdue"]
        hist = await check_history(gw, inst["id"])
        assert sum(len(actions(hist, "task_created", n)) for n in ("went", "stopped", "overdue")) == 1
