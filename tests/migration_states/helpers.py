"""Helpers of the migration tests: models, migrations run to their end, rows of an instance."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select

from services.runtime.instances.models import instances
from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import JobRunner
from services.runtime.subscriptions.models import subscriptions
from tests.runtime.test_operations_helpers import ADMIN, post

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>'
        '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0" targetNamespace="t">')


def bpmn(key: str, body: str, *flows: str, roots: str = "") -> bytes:
    """A process `key` with `body` and flows `a>b` (ids flow0, flow1, ... in order) or `id=a>b`."""
    lines = []
    for index, flow in enumerate(flows):
        flow_id = f"flow{index}"
        if "=" in flow:
            flow_id, flow = flow.split("=", 1)
        source, _, rest = flow.partition(">")
        target, _, condition = rest.partition(":")
        inner = (f'<conditionExpression xsi:type="tFormalExpression" '
                 f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{condition}</conditionExpression>'
                 if condition else "")
        lines.append(f'<sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">{inner}</sequenceFlow>')
    return (f'{HEAD}{roots}<process id="{key}" isExecutable="true">{body}{"".join(lines)}'
            '</process></definitions>').encode()


async def migrate_all(runtime, v1: str, v2: str, mapping: dict[str, str] | None = None,
                      instance_ids: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"from_definition_id": v1, "to_definition_id": v2, "mapping": mapping or {}}
    if instance_ids:
        body["instance_ids"] = instance_ids
    r = await post(runtime, "/migrations", ADMIN, body)
    assert r.status_code == 202, r.text
    await JobRunner(runtime.client.app.state.ctx).run_due()
    done = await runtime.client.get(f"/api/v1/migrations/{r.json()['id']}", headers=runtime.auth(*ADMIN))
    assert done.status_code == 200, done.text
    return done.json()


async def dry_run(runtime, v1: str, v2: str, mapping: dict[str, str] | None = None) -> dict[str, Any]:
    r = await post(runtime, "/migrations/dry-run", ADMIN,
                   {"from_definition_id": v1, "to_definition_id": v2, "mapping": mapping or {}})
    assert r.status_code == 200, r.text
    return r.json()


async def instance_jobs(runtime, instance_id: str) -> list[dict[str, Any]]:
    async with runtime.db.connection() as conn:
        rows = (await conn.execute(select(jobs).where(jobs.c.instance_id == UUID(instance_id)))).mappings().all()
    return [dict(r) for r in rows]


async def instance_subs(runtime, instance_id: str) -> list[dict[str, Any]]:
    async with runtime.db.connection() as conn:
        rows = (await conn.execute(
            select(subscriptions).where(subscriptions.c.instance_id == UUID(instance_id)))).mappings().all()
    return [dict(r) for r in rows]


async def engine_state(runtime, instance_id: str) -> dict[str, Any]:
    async with runtime.db.connection() as conn:
        return (await conn.execute(
            select(instances.c.engine_state).where(instances.c.id == UUID(instance_id)))).scalar_one()
