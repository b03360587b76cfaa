"""Races across an instance: parallel branches joining, countersigns, starts with keys."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.races.helpers import Client, actions, check_answers, check_history, race, statuses

pytestmark = pytest.mark.e2e
ROUNDS = 3

FORK = """
<process id="P" name="Five branches" isExecutable="true">
  <startEvent id="start"/>
  <parallelGateway id="fork"/>
  <userTask id="b1" name="B1" camunda:assignee="bob"/>
  <userTask id="b2" name="B2" camunda:assignee="bob"/>
  <userTask id="b3" name="B3" camunda:assignee="carol"/>
  <userTask id="b4" name="B4" camunda:assignee="carol"/>
  <userTask id="b5" name="B5" camunda:assignee="dave"/>
  <parallelGateway id="join"/>
  <userTask id="final" name="Final" camunda:assignee="erin"/>
  <endEvent id="end"/>
  <sequenceFlow id="f0" sourceRef="start" targetRef="fork"/>
  <sequenceFlow id="f1" sourceRef="fork" targetRef="b1"/>
  <sequenceFlow id="f2" sourceRef="fork" targetRef="b2"/>
  <sequenceFlow id="f3" sourceRef="fork" targetRef="b3"/>
  <sequenceFlow id="f4" sourceRef="fork" targetRef="b4"/>
  <sequenceFlow id="f5" sourceRef="fork" targetRef="b5"/>
  <sequenceFlow id="j1" sourceRef="b1" targetRef="join"/>
  <sequenceFlow id="j2" sourceRef="b2" targetRef="join"/>
  <sequenceFlow id="j3" sourceRef="b3" targetRef="join"/>
  <sequenceFlow id="j4" sourceRef="b4" targetRef="join"/>
  <sequenceFlow id="j5" sourceRef="b5" targetRef="join"/>
  <sequenceFlow id="f6" sourceRef="join" targetRef="final"/>
  <sequenceFlow id="f7" sourceRef="final" targetRef="end"/>
</process>
"""

COUNTERSIGN = """
<process id="P" name="Countersign" isExecutable="true">
  <startEvent id="start"/>
  <userTask id="sign" name="Sign" camunda:assignee="${signer}" bpm:approval="true" bpm:signMode="MODE">
    <multiInstanceLoopCharacteristics camunda:collection="signers" camunda:elementVariable="signer"/>
  </userTask>
  <exclusiveGateway id="route" default="no"/>
  <userTask id="archive" name="Archive" camunda:assignee="erin"/>
  <userTask id="fixup" name="Fix up" camunda:assignee="alice"/>
  <endEvent id="end"/>
  <endEvent id="end2"/>
  <sequenceFlow id="f1" sourceRef="start" targetRef="sign"/>
  <sequenceFlow id="f2" sourceRef="sign" targetRef="route"/>
  <sequenceFlow id="yes" sourceRef="route" targetRef="archive">
    <conditionExpression>${sign_outcome == 'approved'}</conditionExpression>
  </sequenceFlow>
  <sequenceFlow id="no" sourceRef="route" targetRef="fixup"/>
  <sequenceFlow id="f3" sourceRef="archive" targetRef="end"/>
  <sequenceFlow id="f4" sourceRef="fixup" targetRef="end2"/>
</process>
"""
SIGNERS = ["bob", "carol", "dave"]


async def test_parallel_branches_join_once(gw: Client):
    key = await gw.deploy(FORK, "fork")
    for _ in range(ROUNDS):
        inst = await gw.start(key)
        open_tasks = {}
        for user in ("bob", "carol", "dave"):
            for t in await gw.tasks(user, inst["id"]):
                open_tasks[t["id"]] = user
        assert len(open_tasks) == 5
        calls = [gw.post(u, f"/api/v1/tasks/{t}/complete", {"variables": {f"v_{u}_{i}": i}})
                 for i, (t, u) in enumerate(open_tasks.items()) for _ in range(2)]
        answers = await race(*calls)
        check_answers(answers, {200, 409})
        assert statuses(answers)[200] == 5, statuses(answers)
        final = await gw.tasks("erin", inst["id"])
        assert [t["node_id"] for t in final] == ["final"]
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "task_created", "final")) == 1
        variables = (await gw.view(inst["id"]))["variables"]
        for i, (_, u) in enumerate(open_tasks.items()):
            assert variables.get(f"v_{u}_{i}") == i, variables


async def _countersign(gw: Client, key: str) -> tuple[dict, dict[str, dict]]:
    inst = await gw.start(key, variables={"signers": SIGNERS})
    tasks = {u: await gw.one_task(u, inst["id"], "sign") for u in SIGNERS}
    return inst, tasks


async def _decided(gw: Client, inst: dict) -> str:
    view = await gw.view(inst["id"])
    assert view["state"] == "active", view
    assert len(view["active_nodes"]) == 1 and view["active_nodes"][0] in ("archive", "fixup"), view
    hist = await check_history(gw, inst["id"])
    assert len(actions(hist, "task_created", "archive")) + len(actions(hist, "task_created", "fixup")) == 1
    return view["active_nodes"][0]


@pytest.mark.parametrize("mode", ["all", "any"])
async def test_countersign_approve_vs_reject(gw: Client, mode: str):
    key = await gw.deploy(COUNTERSIGN.replace("MODE", mode), f"cs{mode}")
    for round_ in range(ROUNDS):
        inst, tasks = await _countersign(gw, key)
        calls = []
        for i, user in enumerate(SIGNERS):
            verb = "reject" if (i + round_) % 3 == 0 else "approve"
            calls += [gw.post(user, f"/api/v1/tasks/{tasks[user]['id']}/{verb}", {"comment": verb}) for _ in range(2)]
        answers = await race(*calls)
        check_answers(answers, {200, 409})
        won = [r for r in answers if r.status_code == 200]
        assert 1 <= len(won) <= 3
        node = await _decided(gw, inst)
        outcomes = [r.json()["outcome"] for r in won]
        if mode == "all":
            assert len(won) == 3, statuses(answers)  # every signer's vote counts
            assert node == ("archive" if set(outcomes) == {"approve"} else "fixup"), outcomes
        else:
            assert "approve" not in outcomes or node == "archive", outcomes


async def test_last_open_instance_of_a_countersign(gw: Client):
    key = await gw.deploy(COUNTERSIGN.replace("MODE", "all"), "cslast")
    for _ in range(ROUNDS):
        inst, tasks = await _countersign(gw, key)
        for user in SIGNERS[:2]:
            r = await gw.post(user, f"/api/v1/tasks/{tasks[user]['id']}/approve", {"comment": "yes"})
            assert r.status_code == 200, r.text
        last = f"/api/v1/tasks/{tasks['dave']['id']}"
        calls = [gw.post("dave", f"{last}/approve", {"comment": "y"}) for _ in range(3)]
        calls += [gw.post("dave", f"{last}/reject", {"comment": "n"}) for _ in range(3)]
        answers = await race(*calls)
        check_answers(answers, {200, 409})
        [won] = [r for r in answers if r.status_code == 200]
        node = await _decided(gw, inst)
        assert node == ("archive" if won.json()["outcome"] == "approve" else "fixup")


async def test_concurrent_starts_with_one_idempotency_key(gw: Client):
    key = await gw.deploy(FORK, "idem")
    alice = await gw.h("alice")
    await gw.start(key)  # the runtime knows the definition
    for round_ in range(ROUNDS):
        idem = f"idem-{key}-{round_}"
        answers = await race(*(
            gw.http.post(
                "/api/v1/process-instances",
                json={"definition_key": key, "variables": {}, "business_key": idem},
                headers={**alice, "Idempotency-Key": idem},
            )
            for _ in range(10)
        ))
        check_answers(answers, {201})
        assert len({r.json()["id"] for r in answers}) == 1
        listed = await gw.http.get(
            "/api/v1/process-instances", params={"business_key": idem}, headers=await gw.h("admin")
        )
        assert [i["id"] for i in listed.json()["items"]] == [answers[0].json()["id"]]


async def test_concurrent_completions_with_one_idempotency_key(gw: Client):
    key = await gw.deploy(FORK, "idemc")
    for round_ in range(ROUNDS):
        inst = await gw.start(key)
        [b5] = await gw.tasks("dave", inst["id"])
        dave = await gw.h("dave")
        answers = await race(*(
            gw.http.post(f"/api/v1/tasks/{b5['id']}/complete", json={}, headers={**dave, "Idempotency-Key": f"k{round_}"})
            for _ in range(8)
        ))
        check_answers(answers, {200})
        assert all(r.json() == answers[0].json() for r in answers), [r.text for r in answers]
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "task_completed", "b5")) == 1


async def test_concurrent_starts_with_one_business_key(gw: Client):
    key = await gw.deploy(FORK, "bk")
    await gw.start(key)
    alice = await gw.h("alice")
    answers = await race(*(
        gw.http.post(
            "/api/v1/process-instances",
            json={"definition_key": key, "variables": {}, "business_key": f"BK-{key}"},
            headers=alice,
        )
        for _ in range(10)
    ))
    check_answers(answers, {201, 409})
    ids = [r.json()["id"] for r in answers if r.status_code == 201]
    assert len(set(ids)) == len(ids) >= 1
    for instance_id in ids:
        await check_history(gw, instance_id)
        await asyncio.sleep(0)


async def test_admin_skip_vs_last_countersign_vote(gw: Client):
    key = await gw.deploy(COUNTERSIGN.replace("MODE", "all"), "csskip")
    for _ in range(ROUNDS):
        inst, tasks = await _countersign(gw, key)
        for user in SIGNERS[:2]:
            r = await gw.post(user, f"/api/v1/tasks/{tasks[user]['id']}/approve", {"comment": "yes"})
            assert r.status_code == 200, r.text
        last = tasks["dave"]["id"]
        admin = f"/api/v1/admin/process-instances/{inst['id']}"
        calls = [gw.post("admin", f"{admin}/skip", {"task_id": last, "reason": "away"}) for _ in range(2)]
        calls += [gw.post("dave", f"/api/v1/tasks/{last}/reject", {"comment": "no"}) for _ in range(2)]
        answers = await race(*calls)
        check_answers(answers, {200, 409})
        won = [r for r in answers if r.status_code == 200]
        assert len(won) == 1, [(r.request.url.path, r.status_code, r.text) for r in answers]
        node = await _decided(gw, inst)
        assert node == ("archive" if won[0].request.url.path.endswith("/skip") else "fixup")


async def test_add_the_same_signer_to_a_countersign_at_once(gw: Client):
    """A parallel signer added to a parallel countersign is one more vote: added by
    several requests at once, one person must not get several votes."""
    key = await gw.deploy(COUNTERSIGN.replace("MODE", "all"), "csadd")
    for _ in range(ROUNDS):
        inst = await gw.start(key, variables={"signers": ["bob", "carol"]})
        bob_task = await gw.one_task("bob", inst["id"], "sign")
        answers = await race(*(
            gw.post("bob", f"/api/v1/tasks/{bob_task['id']}/signers", {"user": "erin", "mode": "parallel"})
            for _ in range(5)
        ))
        check_answers(answers, {201, 409})
        erin = [t for t in await gw.tasks("erin", inst["id"]) if t["node_id"] == "sign"]
        assert len(erin) == 1 and statuses(answers)[201] == 1, (statuses(answers), erin)
