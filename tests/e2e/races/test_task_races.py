"""Requests racing on one task of one instance, through the gateway of the running platform."""

from __future__ import annotations

import pytest

from tests.e2e.races.helpers import Client, actions, check_answers, check_history, race, statuses

pytestmark = pytest.mark.e2e
ROUNDS = 3

SEQ = """
<process id="P" name="Sequential approval" isExecutable="true">
  <startEvent id="start"/>
  <userTask id="review" name="Review" camunda:assignee="bob" bpm:approval="true" bpm:rejectAction="end"/>
  <userTask id="pay" name="Pay" camunda:assignee="carol"/>
  <endEvent id="end"/>
  <sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
  <sequenceFlow id="f2" sourceRef="review" targetRef="pay"/>
  <sequenceFlow id="f3" sourceRef="pay" targetRef="end"/>
</process>
"""

CLAIM = """
<process id="P" name="Offered" isExecutable="true">
  <startEvent id="start"/>
  <userTask id="check" name="Check" camunda:candidateUsers="carol,dave"/>
  <userTask id="pay" name="Pay" camunda:assignee="erin"/>
  <endEvent id="end"/>
  <sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
  <sequenceFlow id="f2" sourceRef="check" targetRef="pay"/>
  <sequenceFlow id="f3" sourceRef="pay" targetRef="end"/>
</process>
"""


@pytest.fixture(scope="module")
async def seq_key(stack):
    client = Client(stack.url("gateway"))
    try:
        yield await client.deploy(SEQ, "seq")
    finally:
        await client.close()


async def _pay_tasks(gw: Client, instance_id: str) -> list[dict]:
    return [t for t in await gw.tasks("carol", instance_id) if t["node_id"] == "pay"]


async def test_many_completions_of_one_task(gw: Client, seq_key: str):
    for _ in range(ROUNDS):
        inst = await gw.start(seq_key)
        review = await gw.one_task("bob", inst["id"], "review")
        path = f"/api/v1/tasks/{review['id']}"
        calls = [gw.post("bob", f"{path}/approve", {"comment": f"a{i}"}) for i in range(10)]
        answers = await race(*calls)
        check_answers(answers, {200, 409})
        assert statuses(answers)[200] == 1, statuses(answers)
        assert len(await _pay_tasks(gw, inst["id"])) == 1
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "task_completed", "review")) == 1
        assert len(actions(hist, "task_created", "pay")) == 1


async def test_approve_vs_reject_on_one_task(gw: Client, seq_key: str):
    for _ in range(ROUNDS):
        inst = await gw.start(seq_key)
        review = await gw.one_task("bob", inst["id"], "review")
        path = f"/api/v1/tasks/{review['id']}"
        calls = []
        for i in range(4):
            calls.append(gw.post("bob", f"{path}/approve", {"comment": f"yes {i}"}))
            calls.append(gw.post("bob", f"{path}/reject", {"comment": f"no {i}"}))
        answers = await race(*calls)
        check_answers(answers, {200, 409})
        winners = [r for r in answers if r.status_code == 200]
        assert len(winners) == 1, statuses(answers)
        outcome = winners[0].json()["outcome"]
        view = await gw.view(inst["id"])
        pay = await _pay_tasks(gw, inst["id"])
        if outcome == "approve":
            assert view["state"] == "active" and view["active_nodes"] == ["pay"] and len(pay) == 1
        else:
            assert view["state"] != "active" and pay == [], view
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "task_completed", "review")) == 1


async def test_complete_vs_claim(gw: Client):
    key = await gw.deploy(CLAIM, "claim")
    for _ in range(ROUNDS):
        inst = await gw.start(key)
        check = await gw.one_task("carol", inst["id"], "check")
        path = f"/api/v1/tasks/{check['id']}"
        calls = [gw.post("carol", f"{path}/complete") for _ in range(3)]
        calls += [gw.post("dave", f"{path}/claim") for _ in range(3)]
        calls += [gw.post("carol", f"{path}/claim") for _ in range(2)]
        calls += [gw.post("dave", f"{path}/complete") for _ in range(2)]
        answers = await race(*calls)
        check_answers(answers, {200, 403, 409})
        completes = [r for r in answers if r.request.url.path.endswith("/complete") and r.status_code == 200]
        claims = [r for r in answers if r.request.url.path.endswith("/claim") and r.status_code == 200]
        assert len(completes) == 1, statuses(answers)
        assert len(claims) <= 1, [r.json() for r in claims]
        hist = await check_history(gw, inst["id"])
        [done] = actions(hist, "task_completed", "check")
        if claims:  # a claim only before the completion, and only the claimer completes then
            assert done["actor"] == claims[0].json()["assignee"]
        assert len(actions(hist, "task_created", "pay")) == 1
        assert len(actions(hist, "task_claimed")) == len(claims)


async def test_complete_vs_transfer_and_delegate(gw: Client, seq_key: str):
    for _ in range(ROUNDS):
        inst = await gw.start(seq_key)
        review = await gw.one_task("bob", inst["id"], "review")
        path = f"/api/v1/tasks/{review['id']}"
        calls = [gw.post("bob", f"{path}/approve") for _ in range(3)]
        calls += [gw.post("bob", f"{path}/transfer", {"to": "dave", "reason": "away"}) for _ in range(2)]
        calls += [gw.post("bob", f"{path}/delegate", {"to": "erin", "reason": "help"}) for _ in range(2)]
        answers = await race(*calls)
        check_answers(answers, {200, 403, 409, 422})
        winners = [r for r in answers if r.status_code == 200]
        assert len(winners) == 1, [(r.request.url.path, r.status_code, r.text) for r in answers]
        hist = await check_history(gw, inst["id"])
        won = winners[0].request.url.path.rsplit("/", 1)[1]
        completed = actions(hist, "task_completed", "review")
        if won == "approve":
            assert len(completed) == 1 and len(await _pay_tasks(gw, inst["id"])) == 1
        else:
            assert completed == []
            [task] = await gw.tasks("dave" if won == "transfer" else "erin", inst["id"])
            assert task["id"] == review["id"]
        assert len(actions(hist, "task_transferred")) + len(actions(hist, "task_delegated")) == (won != "approve")


async def test_urge_while_completing(gw: Client, seq_key: str):
    for _ in range(ROUNDS):
        inst = await gw.start(seq_key)
        review = await gw.one_task("bob", inst["id"], "review")
        path = f"/api/v1/tasks/{review['id']}"
        calls = [gw.post("alice", f"{path}/urge", {"message": f"please {i}"}) for i in range(4)]
        calls += [gw.post("bob", f"{path}/approve") for _ in range(3)]
        answers = await race(*calls)
        check_answers(answers, {200, 409, 429})
        urges = [r for r in answers if r.request.url.path.endswith("/urge")]
        completes = [r for r in answers if r.request.url.path.endswith("/approve")]
        assert statuses(completes)[200] == 1
        assert statuses(urges)[200] <= 1, statuses(urges)
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "task_urged")) == statuses(urges)[200]
        assert len(actions(hist, "task_created", "pay")) == 1


async def test_withdraw_vs_approval(gw: Client, seq_key: str):
    for _ in range(ROUNDS):
        inst = await gw.start(seq_key)
        review = await gw.one_task("bob", inst["id"], "review")
        calls = [gw.post("alice", f"/api/v1/process-instances/{inst['id']}/withdraw", {"reason": "oops"}) for _ in range(3)]
        calls += [gw.post("bob", f"/api/v1/tasks/{review['id']}/approve", {"comment": "ok"}) for _ in range(3)]
        answers = await race(*calls)
        check_answers(answers, {200, 409})
        winners = [r for r in answers if r.status_code == 200]
        assert len(winners) == 1, [(r.request.url.path, r.status_code, r.text) for r in answers]
        view = await gw.view(inst["id"])
        hist = await check_history(gw, inst["id"])
        if winners[0].request.url.path.endswith("/withdraw"):
            assert view["state"] == "terminated" and actions(hist, "task_completed") == []
            assert await _pay_tasks(gw, inst["id"]) == []
        else:
            assert view["state"] == "active" and view["active_nodes"] == ["pay"]
            assert len(actions(hist, "task_completed", "review")) == 1


async def test_add_the_same_parallel_signer_twice_at_once(gw: Client, seq_key: str):
    """One person signs a node once: concurrent requests adding the same signer in
    parallel must leave one signer task for them, the others refused with 409."""
    for _ in range(ROUNDS):
        inst = await gw.start(seq_key)
        review = await gw.one_task("bob", inst["id"], "review")
        path = f"/api/v1/tasks/{review['id']}/signers"
        answers = await race(*(gw.post("bob", path, {"user": "dave", "mode": "parallel"}) for _ in range(6)))
        check_answers(answers, {200, 201, 409})
        dave = [t for t in await gw.tasks("dave", inst["id"]) if t["node_id"] == "review"]
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "signer_added")) == 1, statuses(answers)
        assert len(dave) == 1, dave


async def test_remove_signer_vs_signer_completing(gw: Client, seq_key: str):
    for _ in range(ROUNDS):
        inst = await gw.start(seq_key)
        review = await gw.one_task("bob", inst["id"], "review")
        added = await gw.post("bob", f"/api/v1/tasks/{review['id']}/signers", {"user": "dave", "mode": "parallel"})
        assert added.status_code == 201, added.text
        signer_id = added.json()["signer_id"]
        dave_task = await gw.one_task("dave", inst["id"], "review")
        bob = await gw.h("bob")
        removes = [
            gw.http.delete(f"/api/v1/tasks/{review['id']}/signers/{signer_id}", headers=bob) for _ in range(3)
        ]
        approvals = [gw.post("dave", f"/api/v1/tasks/{dave_task['id']}/approve", {"comment": "ok"}) for _ in range(2)]
        answers = await race(*removes, *approvals)
        check_answers(answers, {200, 204, 404, 409})
        assert statuses(answers)[200] + statuses(answers)[204] == 1, [(r.status_code, r.text) for r in answers]
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "signer_removed")) == statuses(answers)[204]
        assert len(actions(hist, "task_completed", "review")) == statuses(answers)[200]
        # bob's own task is still open either way, and completing it moves on once
        r = await gw.post("bob", f"/api/v1/tasks/{review['id']}/approve", {"comment": "ok"})
        assert r.status_code == 200, r.text
        assert (await gw.view(inst["id"]))["active_nodes"] == ["pay"]
        await check_history(gw, inst["id"])
