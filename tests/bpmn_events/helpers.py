"""Helpers of the event-semantics tests: models, starts, tasks, messages, rows."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from sqlalchemy import select

from services.runtime.instances.models import instances
from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import JobRunner
from services.runtime.subscriptions.models import subscriptions
from services.runtime.tasks.models import tasks

NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')

ROOTS = (
    '<error id="err_a" errorCode="A"/><error id="err_b" errorCode="B"/>'
    '<escalation id="esc_a" escalationCode="ESC"/>'
    '<message id="m_go" name="go"/><message id="m_stop" name="stop"/><message id="m_poke" name="poke"/>'
    '<signal id="sig_go" name="sgo"/><signal id="sig_alarm" name="alarm"/>'
)


def flows(*pairs: str) -> str:
    items = []
    for index, pair in enumerate(pairs):
        source, _, target = pair.partition(">")
        target, _, condition = target.partition(":")
        inner = (f'<conditionExpression xsi:type="tFormalExpression">{condition}</conditionExpression>'
                 if condition else "")
        items.append(f'<sequenceFlow id="sf_{source}_{target}_{index}" sourceRef="{source}" '
                     f'targetRef="{target}">{inner}</sequenceFlow>')
    return "".join(items)


def bpmn(key: str, body: str, roots: str = ROOTS) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><definitions {NS} id="d" targetNamespace="t">'
            f'{roots}<process id="{key}" isExecutable="true">{body}</process></definitions>').encode()


def task(node_id: str) -> str:
    return f'<userTask id="{node_id}" camunda:assignee="alice"/>'


def admin(runtime) -> dict[str, str]:
    return runtime.auth("admin", "admin")


async def start(runtime, key: str, **variables: Any) -> dict[str, Any]:
    r = await runtime.client.post("/api/v1/process-instances",
                                  json={"definition_key": key, "variables": variables},
                                  headers=runtime.auth("alice"))
    assert r.status_code == 201, r.text
    return r.json()


async def view(runtime, instance_id: str) -> dict[str, Any]:
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}", headers=admin(runtime))
    assert r.status_code == 200, r.text
    return r.json()


async def trail(runtime, instance_id: str) -> list[dict[str, Any]]:
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}/history", headers=admin(runtime))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def _rows(runtime, table, *where) -> list[dict[str, Any]]:
    async with runtime.db.transaction() as session:
        return [dict(r) for r in (await session.execute(select(table).where(*where))).mappings()]


async def open_tasks(runtime, instance_id: str) -> list[dict[str, Any]]:
    return await _rows(runtime, tasks, tasks.c.instance_id == UUID(instance_id), tasks.c.state == "open")


async def open_nodes(runtime, instance_id: str) -> list[str]:
    return sorted(t["node_id"] for t in await open_tasks(runtime, instance_id))


async def job_rows(runtime, instance_id: str) -> list[dict[str, Any]]:
    return await _rows(runtime, jobs, jobs.c.instance_id == UUID(instance_id))


async def sub_rows(runtime, instance_id: str) -> list[dict[str, Any]]:
    return await _rows(runtime, subscriptions, subscriptions.c.instance_id == UUID(instance_id))


async def engine_state(runtime, instance_id: str) -> dict[str, Any]:
    [row] = await _rows(runtime, instances, instances.c.id == UUID(instance_id))
    return row["engine_state"]


async def children(runtime, parent_id: str) -> list[dict[str, Any]]:
    return await _rows(runtime, instances, instances.c.parent_instance_id == UUID(parent_id))


async def complete(runtime, instance_id: str, node_id: str, **variables: Any) -> Any:
    found = [t for t in await open_tasks(runtime, instance_id) if t["node_id"] == node_id]
    assert found, f"no open task at {node_id}"
    r = await runtime.client.post(f"/api/v1/tasks/{found[0]['id']}/complete", json={"variables": variables},
                                  headers=runtime.auth("alice"))
    assert r.status_code == 200, r.text
    return r.json()


async def message(runtime, name: str, **body: Any) -> Any:
    return await runtime.client.post("/api/v1/messages", json={"name": name, **body},
                                     headers=runtime.auth("sys", "worker"))


async def signal(runtime, name: str, **variables: Any) -> Any:
    return await runtime.client.post("/api/v1/signals", json={"name": name, "variables": variables},
                                     headers=runtime.auth("sys", "worker"))


def later(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(**delta)


async def run_at(runtime, moment: dt.datetime) -> int:
    return await JobRunner(runtime.client.app.state.ctx).run_due(now=moment)


async def run_jobs(runtime) -> int:
    return await JobRunner(runtime.client.app.state.ctx).run_due()


def esp(esp_id: str, start: str, inner: str, *inner_flows: str) -> str:
    """An event sub-process: `start` is the whole start event element."""
    return f'<subProcess id="{esp_id}" triggeredByEvent="true">{start}{inner}{flows(*inner_flows)}</subProcess>'


def sub(sub_id: str, inner: str, *inner_flows: str) -> str:
    return f'<subProcess id="{sub_id}">{inner}{flows(*inner_flows)}</subProcess>'
