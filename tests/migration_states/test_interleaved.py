"""Migration: users complete tasks between a migration's creation and its batch."""

from __future__ import annotations

from services.runtime.jobs.worker import JobRunner
from tests.migration_states.helpers import bpmn
from tests.runtime.test_operations_helpers import (
    ADMIN,
    assert_chain_valid,
    history,
    instance,
    open_tasks,
    post,
    start,
)

TASK = '<userTask id="{0}" name="{1}" camunda:assignee="carol"/>'


def _steps(third: str) -> bytes:
    return bpmn("steps", '<startEvent id="s"/>' + TASK.format("a", "A") + TASK.format("b", "B")
                + TASK.format(third, third.upper()) + '<endEvent id="e"/>', "s>a", "a>b", f"b>{third}", f"{third}>e")


async def test_completions_between_creation_and_batch_are_neither_lost_nor_repeated(runtime):
    v1 = await runtime.publish(_steps("c"), "steps", version=1)
    moving, ending = await start(runtime, "steps"), await start(runtime, "steps")
    v2 = await runtime.publish(_steps("c2"), "steps", version=2)
    r = await post(runtime, "/migrations", ADMIN,
                   {"from_definition_id": v1, "to_definition_id": v2, "mapping": {"c": "c2"}})
    assert r.status_code == 202 and r.json()["total"] == 2, r.text
    # meanwhile: one instance moves on to b, the other ends
    [a] = await open_tasks(runtime, moving["id"])
    assert (await post(runtime, f"/tasks/{a['id']}/complete", ("carol",))).status_code == 200
    for _ in range(3):
        [task] = await open_tasks(runtime, ending["id"])
        assert (await post(runtime, f"/tasks/{task['id']}/complete", ("carol",))).status_code == 200
    await JobRunner(runtime.client.app.state.ctx).run_due()
    done = (await runtime.client.get(f"/api/v1/migrations/{r.json()['id']}", headers=runtime.auth(*ADMIN))).json()
    assert (done["migrated"], done["failed"], done["state"]) == (1, 1, "completed"), done
    [b] = await open_tasks(runtime, moving["id"])
    assert (b["node_id"], b["definition_version"]) == ("b", 2)
    r = await post(runtime, f"/tasks/{b['id']}/complete", ("carol",))
    assert r.json()["active_nodes"] == ["c2"], r.text
    assert (await post(runtime, f"/tasks/{a['id']}/complete", ("carol",))).status_code == 409
    completions = [h for h in await history(runtime, moving["id"]) if h["action"] == "task_completed"]
    assert [h["node_id"] for h in completions] == ["a", "b"], completions
    assert (await instance(runtime, ending["id"]))["state"] == "completed"
    await assert_chain_valid(runtime, moving["id"])
    await assert_chain_valid(runtime, ending["id"])
