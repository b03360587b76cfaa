"""Replay the steps the pure engine took on a generated model (tests/conformance/random_models)
through the runtime's HTTP API with PostgreSQL, and compare after every step.

The runtime's clock (``services.runtime.instances.service.utcnow``) is pinned to the
conformance harness's clock (``harness.CLOCK``) and moved to a timer's due time when the
timer fires, as the driver moves ours: job due times are then comparable one to one.

After each step the runtime must show what the pure engine's state after the same step
holds:

* the instance's status and active nodes (GET /api/v1/process-instances/{id}) and its
  variables;
* the open tasks (their BPMN ids, GET /api/v1/tasks?instance_id=...&scope=all);
* the rows of ``jobs`` (node, due time) and ``subscriptions`` (kind, name, node,
  correlation key) of the instance;

and the rows must be those of the runtime's own stored engine state (same ids: a task
row per open task token, a job row per job, a subscription row per subscription). At
the end the history chain must verify.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any
from uuid import UUID

from sqlalchemy import select

from bpm_process.engine import InstanceState
from services.runtime.instances.models import instances
from services.runtime.jobs.models import jobs
from services.runtime.subscriptions.models import subscriptions
from services.runtime.tasks.models import tasks
from tests.conformance.harness import CLOCK
from tests.conformance.random_models import Model, Outcome, _our_instance_path
from tests.runtime.timing import run_at

ADMIN = ("admin", "admin", "worker")


class Clock:
    """The runtime's clock during a replay (patched over ``utcnow``)."""

    def __init__(self) -> None:
        self.now = CLOCK

    def __call__(self) -> dt.datetime:
        return self.now


def _counter(items: Any) -> Counter:
    return Counter(items)


def _diff(what: str, runtime: Counter, engine: Counter) -> str | None:
    if runtime == engine:
        return None
    return (f"{what}: runtime has {dict(runtime - engine)} more, "
            f"engine has {dict(engine - runtime)} more")


class Replay:
    def __init__(self, runtime: Any, model: Model, outcome: Outcome, clock: Clock,
                 copies: int = 1) -> None:
        self.runtime = runtime
        self.model = model
        self.outcome = outcome
        self.clock = clock
        self.key = f"fuzz{model.seed}"
        self.copies = copies
        """Instances of the model the steps run in side by side (a signal reaches each, a
        message is sent to all, a timer step fires each one's timer)."""
        self.instances: list[str] = []
        self.instance: str | None = None
        self.headers = runtime.auth(*ADMIN)

    # -- reading the runtime ----------------------------------------------------------------

    async def stored_state(self) -> tuple[InstanceState, dict[str, Any]]:
        async with self.runtime.db.transaction() as session:
            row = (await session.execute(
                select(instances).where(instances.c.id == UUID(self.instance)))).mappings().one()
        return InstanceState.from_json(row["engine_state"]), dict(row)

    async def rows(self, table: Any) -> list[dict[str, Any]]:
        async with self.runtime.db.transaction() as session:
            found = await session.execute(select(table).where(table.c.instance_id == UUID(self.instance)))
            return [dict(r) for r in found.mappings()]

    async def open_tasks(self) -> list[dict[str, Any]]:
        r = await self.runtime.client.get(
            f"/api/v1/tasks?instance_id={self.instance}&scope=all&limit=200", headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    # -- comparing -----------------------------------------------------------------------

    async def compare(self, index: int, step: Any) -> list[str]:
        """Differences between the runtime and the pure engine after step ``index``."""
        engine: InstanceState = self.outcome.states[index]
        problems: list[str] = []
        where = f"after step {index} {step!r}"

        view = await self.runtime.client.get(f"/api/v1/process-instances/{self.instance}",
                                             headers=self.headers)
        assert view.status_code == 200, view.text
        shown = view.json()
        if shown["state"] != engine.status:
            problems.append(f"{where}: state {shown['state']!r}, engine {engine.status!r}")
        if shown["active_nodes"] != list(engine.active_nodes):
            problems.append(f"{where}: active nodes {shown['active_nodes']}, engine {list(engine.active_nodes)}")
        stored, row = await self.stored_state()
        if dict(stored.variables) != dict(engine.variables):
            problems.append(f"{where}: variables {dict(stored.variables)}, engine {dict(engine.variables)}")
        if (diff := _diff(f"{where}: token nodes", _counter((t.node, t.via) for t in stored.tokens),
                          _counter((t.node, t.via) for t in engine.tokens))):
            problems.append(diff)
        if (diff := _diff(f"{where}: scopes", _counter((s.node, s.kind) for s in stored.scopes),
                          _counter((s.node, s.kind) for s in engine.scopes))):
            problems.append(diff)

        open_rows = await self.open_tasks()
        if (diff := _diff(f"{where}: open tasks (API)", _counter(t["node_id"] for t in open_rows),
                          _counter(engine.open_tasks().values()))):
            problems.append(diff)
        task_rows = [t for t in await self.rows(tasks) if t["state"] == "open"]
        if (diff := _diff(f"{where}: open task rows vs stored state",
                          _counter((str(t["id"]), t["node_id"]) for t in task_rows),
                          _counter(stored.open_tasks().items()))):
            problems.append(diff)

        job_rows = await self.rows(jobs)
        if (diff := _diff(f"{where}: jobs", _counter((j["kind"], j["node_id"], j["due_at"] - CLOCK_RT)
                                                    for j in job_rows),
                          _counter(("timer", j.node, j.due_at - CLOCK) for j in engine.jobs))):
            problems.append(diff)
        if (diff := _diff(f"{where}: job rows vs stored state",
                          _counter((str(j["id"]), j["node_id"], j["due_at"]) for j in job_rows),
                          _counter((j.id, j.node, j.due_at) for j in stored.jobs))):
            problems.append(diff)

        sub_rows = await self.rows(subscriptions)
        if (diff := _diff(f"{where}: subscriptions",
                          _counter((s["kind"], s["name"], s["node_id"], s["correlation_key"]) for s in sub_rows),
                          _counter((s.kind, s.name, s.node, s.correlation_key) for s in engine.subscriptions))):
            problems.append(diff)
        if (diff := _diff(f"{where}: subscription rows vs stored state",
                          _counter((str(s["id"]), s["kind"], s["name"], s["node_id"]) for s in sub_rows),
                          _counter((s.id, s.kind, s.name, s.node) for s in stored.subscriptions))):
            problems.append(diff)
        return problems

    # -- acting ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.runtime.publish(runtime_xml(self.model.xml), self.key)
        self.clock.now = CLOCK
        for _ in range(self.copies):
            r = await self.runtime.client.post(
                "/api/v1/process-instances",
                json={"definition_key": self.key, "variables": self.model.variables},
                headers=self.runtime.auth("alice"))
            assert r.status_code == 201, r.text
            self.instances.append(r.json()["id"])

    async def task(self, step: Any) -> None:
        for instance in list(self.instances):
            self.instance = instance
            await self.task_in(step)

    async def task_in(self, step: Any) -> None:
        node = step[1]
        variables = step[2]
        stored, _ = await self.stored_state()
        candidates = [task for task, at in stored.open_tasks().items() if at == node]
        assert candidates, f"runtime: nothing open at {node!r}"
        chosen = candidates[0]
        if len(step) > 3:
            tokens = {t.task: t for t in stored.tokens if t.task is not None}
            matching = [t for t in candidates
                        if _our_instance_path(stored, tokens[t].scope, node) == step[3]]
            assert matching, f"runtime: no open task at {node!r} in instance {step[3]}"
            chosen = matching[0]
        r = await self.runtime.client.post(f"/api/v1/tasks/{chosen}/complete",
                                           json={"variables": variables}, headers=self.headers)
        assert r.status_code == 200, r.text

    async def timer(self, step: Any, engine_before: InstanceState) -> None:
        due = min(j.due_at for j in engine_before.jobs if j.node == step[1])
        moment = CLOCK_RT + (due - CLOCK)
        self.clock.now = max(self.clock.now, moment)
        ran = await run_at(self.runtime, moment)
        assert ran == self.copies, f"runtime: {ran} jobs ran at {moment} for the timer at {step[1]!r}"

    async def message(self, step: Any) -> None:
        r = await self.runtime.client.post("/api/v1/messages", json={"name": step[1], "all": True},
                                           headers=self.headers)
        assert r.status_code == 200, r.text
        assert len(r.json()["instances"]) == self.copies, r.text

    async def signal(self, step: Any) -> None:
        r = await self.runtime.client.post("/api/v1/signals", json={"name": step[1]},
                                           headers=self.headers)
        assert r.status_code == 200, r.text
        assert r.json()["reached"] == self.copies, r.text

    async def compare_all(self, index: int, step: Any) -> list[str]:
        problems = []
        for number, instance in enumerate(list(self.instances)):
            self.instance = instance
            problems += [f"instance {number}: {p}" for p in await self.compare(index, step)]
        return problems

    async def run(self) -> list[str]:
        """Replay every step; the differences found (stops at the first step with any)."""
        await self.start()
        problems = await self.compare_all(0, "start")
        if problems:
            return problems
        for index, step in enumerate(self.outcome.steps, start=1):
            kind = step[0]
            if kind == "task":
                await self.task(step)
            elif kind == "timer":
                await self.timer(step, self.outcome.states[index - 1])
            elif kind == "message":
                await self.message(step)
            elif kind == "signal":
                await self.signal(step)
            else:
                raise AssertionError(step)
            problems = await self.compare_all(index, step)
            if problems:
                return problems
        for instance in list(self.instances):
            self.instance = instance
            r = await self.runtime.client.get(f"/api/v1/process-instances/{self.instance}/history/verify",
                                              headers=self.headers)
            assert r.status_code == 200, r.text
            if not r.json()["valid"]:
                return [f"history chain: {r.json()}"]
        return []


def runtime_xml(xml: bytes) -> bytes:
    """The model as the runtime gets it: every user task offered to the role ``admin``
    (generated models assign nobody, and a task without any assignment is offered to
    nobody in the runtime: see test_found_defects)."""
    return xml.replace(b"<bpmn:userTask id=", b'<bpmn:userTask camunda:candidateGroups="admin" id=')


CLOCK_RT = CLOCK
"""The runtime's start time (the harness's: due times then compare as they are)."""
