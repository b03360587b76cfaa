"""An administrator's intervention racing a user's completion of the same task."""

from __future__ import annotations

import pytest

from tests.e2e.races.helpers import Client, actions, check_answers, check_history, race, statuses
from tests.e2e.races.test_task_races import SEQ

pytestmark = pytest.mark.e2e
ROUNDS = 3


@pytest.fixture(scope="module")
async def key(stack):
    client = Client(stack.url("gateway"))
    try:
        yield await client.deploy(SEQ, "adm")
    finally:
        await client.close()


async def _setup(gw: Client, key: str) -> tuple[dict, dict, str]:
    inst = await gw.start(key)
    review = await gw.one_task("bob", inst["id"], "review")
    return inst, review, f"/api/v1/admin/process-instances/{inst['id']}"


def _approvals(gw: Client, review: dict, n: int = 3) -> list:
    return [
        gw.post("bob", f"/api/v1/tasks/{review['id']}/approve", {"comment": "ok", "variables": {"by_bob": i}})
        for i in range(n)
    ]


async def test_skip_vs_approval(gw: Client, key: str):
    for _ in range(ROUNDS):
        inst, review, admin = await _setup(gw, key)
        skips = [gw.post("admin", f"{admin}/skip", {"task_id": review["id"], "reason": "urgent"}) for _ in range(2)]
        answers = await race(*skips, *_approvals(gw, review))
        check_answers(answers, {200, 409})
        assert statuses(answers)[200] == 1, [(r.request.url.path, r.status_code, r.text) for r in answers]
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "task_created", "pay")) == 1
        assert (await gw.view(inst["id"]))["active_nodes"] == ["pay"]


async def test_move_vs_approval(gw: Client, key: str):
    for _ in range(ROUNDS):
        inst, review, admin = await _setup(gw, key)
        moves = [
            gw.post("admin", f"{admin}/move", {"from_node": "review", "to_node": "pay", "reason": "jump"})
            for _ in range(2)
        ]
        answers = await race(*moves, *_approvals(gw, review))
        check_answers(answers, {200, 409, 422})
        assert statuses(answers)[200] == 1, [(r.request.url.path, r.status_code, r.text) for r in answers]
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "task_created", "pay")) == 1
        assert (await gw.view(inst["id"]))["active_nodes"] == ["pay"]


async def test_suspend_vs_approval(gw: Client, key: str):
    for _ in range(ROUNDS):
        inst, review, admin = await _setup(gw, key)
        suspends = [gw.post("admin", f"{admin}/suspend", {"reason": "maintenance"}) for _ in range(2)]
        answers = await race(*suspends, *_approvals(gw, review))
        check_answers(answers, {200, 409})
        approved = [r for r in answers if r.request.url.path.endswith("/approve") and r.status_code == 200]
        suspended = [r for r in answers if r.request.url.path.endswith("/suspend") and r.status_code == 200]
        assert len(suspended) == 1 and len(approved) <= 1
        view = await gw.view(inst["id"])
        assert view["suspended"] is True
        assert view["active_nodes"] == (["pay"] if approved else ["review"])
        await check_history(gw, inst["id"])


async def test_terminate_vs_approval(gw: Client, key: str):
    for _ in range(ROUNDS):
        inst, review, admin = await _setup(gw, key)
        terms = [gw.post("admin", f"{admin}/terminate", {"reason": "stop"}) for _ in range(2)]
        answers = await race(*terms, *_approvals(gw, review))
        check_answers(answers, {200, 409})
        terminated = [r for r in answers if r.request.url.path.endswith("/terminate") and r.status_code == 200]
        approved = [r for r in answers if r.request.url.path.endswith("/approve") and r.status_code == 200]
        assert len(terminated) == 1 and len(approved) <= 1
        view = await gw.view(inst["id"])
        assert view["state"] == "terminated" and view["active_nodes"] == []
        assert await gw.tasks("carol", inst["id"]) == []
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "task_created", "pay")) == len(approved)


async def test_variable_edit_vs_approval_loses_nothing(gw: Client, key: str):
    for _ in range(ROUNDS):
        inst, review, admin = await _setup(gw, key)
        edits = [
            gw.patch("admin", f"{admin}/variables", {"variables": {f"by_admin_{i}": i}, "reason": "fix"})
            for i in range(3)
        ]
        answers = await race(*edits, *_approvals(gw, review, 1))
        check_answers(answers, {200})
        variables = (await gw.view(inst["id"]))["variables"]
        for i in range(3):
            assert variables.get(f"by_admin_{i}") == i, variables
        assert variables.get("by_bob") == 0, variables
        hist = await check_history(gw, inst["id"])
        assert len(actions(hist, "variables_updated")) >= 3
