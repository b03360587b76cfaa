"""Two runtime processes on one database and one NATS: nothing happens twice, nothing is lost.

Clients complete tasks through both replicas at once (two clients racing for the
same task), timers fire on whichever replica takes the job, and one replica is
killed with SIGKILL in the middle. Every instance must end exactly as its model
says: each branch's task done once, the timer's alternative taken at most once,
the instance completed, the history chain intact.
"""

from __future__ import annotations

import asyncio
import random
import signal
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from bpm_stack.embedded import free_port
from tests.e2e.conftest import DEMO_PASSWORD, Gateway, drop_stack_databases, eventually, make_stack

pytestmark = pytest.mark.e2e
MODEL = (Path(__file__).parent / "models/race-timer.bpmn").read_bytes()
INSTANCES = 30


async def test_two_runtime_replicas_with_one_killed_mid_run(pg_url, nats_url, run_prefix, tmp_path):
    prefix = f"{run_prefix}s"
    stack = make_stack(pg_url, nats_url, prefix, tmp_path / "logs")
    gw = None
    try:
        await asyncio.to_thread(stack.start, timeout=120)
        second = stack.start_service("runtime", port=free_port(), key="runtime-2")
        await asyncio.to_thread(stack.wait_ready, ["runtime-2"], timeout=60)
        replicas = [stack.url("runtime"), second.url]
        gw = Gateway(stack.url("gateway"))
        designer = await gw.login("designer")
        key = f"race-{uuid.uuid4().hex[:8]}"
        bpmn = MODEL.replace(b'"race-timer"', f'"{key}"'.encode())
        up = await gw.http.post("/api/v1/definitions", content=bpmn, headers={**designer, "Content-Type": "application/xml"})
        assert up.status_code == 201, up.text
        assert (await gw.http.post(f"/api/v1/definitions/{up.json()['id']}/publish", json={}, headers=designer)).status_code == 200
        tokens = {u: (await gw.login(u))["Authorization"] for u in ("alice", "bob", "carol", "dave")}
        clients = [httpx.AsyncClient(base_url=url, timeout=30.0) for url in replicas]

        def headers(user: str) -> dict[str, str]:
            return {"Authorization": tokens[user]}

        async def start(i: int) -> str:
            async def go() -> str:
                r = await clients[i % 2].post(
                    "/api/v1/process-instances", json={"definition_key": key, "business_key": f"R-{i}"}, headers=headers("alice")
                )
                assert r.status_code == 201, r.text
                return r.json()["id"]

            return await eventually(go)

        # half the A tasks are left for the timer, which either replica's job worker fires;
        # the other half are approved at once by two clients racing on both replicas, each
        # right after its instance started (its timer must not win on a slow machine)
        ids = [await start(i) for i in range(INSTANCES // 2)]
        racing: set[str] = set()
        outcomes: Counter[int] = Counter()

        async def complete_everywhere(task_id: str, user: str) -> None:
            results = await asyncio.gather(
                *(c.post(f"/api/v1/tasks/{task_id}/complete", json={}, headers=headers(user)) for c in clients),
                return_exceptions=True,
            )
            for r in results:
                if isinstance(r, httpx.Response):
                    outcomes[r.status_code] += 1
            assert sum(1 for r in results if isinstance(r, httpx.Response) and r.status_code == 200) <= 1

        async def tasks_of(user: str, instance_id: str, client: httpx.AsyncClient) -> list[dict]:
            r = await client.get("/api/v1/tasks", params={"instance_id": instance_id}, headers=headers(user))
            assert r.status_code == 200, r.text
            return r.json()["items"]

        for i in range(INSTANCES // 2, INSTANCES):
            instance_id = await start(i)
            ids.append(instance_id)
            racing.add(instance_id)
            for task in await tasks_of("bob", instance_id, clients[0]):
                await complete_everywhere(task["id"], "bob")
        assert outcomes[200] == len(racing) and outcomes[409] == len(racing), outcomes

        # kill one replica hard while timers are due and B tasks are being completed
        b_tasks = []
        for instance_id in ids:
            b_tasks += [(t["id"]) for t in await tasks_of("carol", instance_id, clients[1])]
        random.shuffle(b_tasks)
        half = len(b_tasks) // 2
        await asyncio.gather(*(complete_everywhere(t, "carol") for t in b_tasks[:half]))
        stack.kill("runtime-2", signal.SIGKILL)
        survivor = clients[0]
        for task_id in b_tasks[half:]:
            r = await survivor.post(f"/api/v1/tasks/{task_id}/complete", json={}, headers=headers("carol"))
            assert r.status_code in (200, 409), r.text

        # the timers of the unapproved A tasks fire (once) and create the late tasks
        async def late_tasks_created() -> list[dict]:
            found = []
            for instance_id in set(ids) - racing:
                late = await tasks_of("dave", instance_id, survivor)
                assert len(late) == 1, f"instance {instance_id} has {len(late)} open late tasks"
                found += late
            return found

        for task in await eventually(late_tasks_created, timeout=30):
            r = await survivor.post(f"/api/v1/tasks/{task['id']}/complete", json={}, headers=headers("dave"))
            assert r.status_code == 200, r.text

        admin = {"Authorization": (await gw.login("admin"))["Authorization"]}
        for instance_id in ids:
            async def finished(instance_id: str = instance_id) -> dict:
                view = (await survivor.get(f"/api/v1/process-instances/{instance_id}", headers=admin)).json()
                assert view["state"] == "completed", view
                return view

            await eventually(finished, timeout=20)
            history = (await survivor.get(f"/api/v1/process-instances/{instance_id}/history", headers=admin)).json()["items"]
            created = Counter(h["node_id"] for h in history if h["action"] == "task_created")
            completed = Counter(h["node_id"] for h in history if h["action"] == "task_completed")
            assert created["approveA"] == 1 and created["approveB"] == 1 and completed["approveB"] == 1
            if instance_id in racing:
                assert completed["approveA"] == 1 and created["lateA"] == 0
            else:
                assert created["lateA"] == 1 and completed["lateA"] == 1 and completed["approveA"] == 0
            assert sum(1 for h in history if h["action"] == "instance_completed") == 1
            verify = (await survivor.get(f"/api/v1/process-instances/{instance_id}/history/verify", headers=admin)).json()
            assert verify["valid"], verify
        for c in clients:
            await c.aclose()
    finally:
        if gw:
            await gw.close()
        await asyncio.to_thread(stack.stop)
        await asyncio.to_thread(drop_stack_databases, pg_url, prefix)


__all__ = ["DEMO_PASSWORD"]
