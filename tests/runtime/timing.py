"""Helpers of the timer and gateway tests: models, starts, jobs made due."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from services.runtime.jobs.models import jobs
from services.runtime.jobs.worker import JobRunner

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>'
        '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">')


def bpmn(key: str, body: str, *flows: str) -> bytes:
    """A process `key` with the elements `body` and flows written `a>b` or `a>b:${cond}`."""
    lines = []
    for index, flow in enumerate(flows):
        source, _, rest = flow.partition(">")
        target, _, condition = rest.partition(":")
        inner = (f'<conditionExpression xsi:type="tFormalExpression" '
                 f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{condition}</conditionExpression>'
                 if condition else "")
        lines.append(f'<sequenceFlow id="flow{index}" sourceRef="{source}" targetRef="{target}">{inner}</sequenceFlow>')
    return (f'{HEAD}<process id="{key}" isExecutable="true">{body}{"".join(lines)}</process></definitions>').encode()


def admin(runtime) -> dict[str, str]:
    return runtime.auth("admin", "admin")


async def start(runtime, key: str, **variables: Any) -> Any:
    return await runtime.client.post("/api/v1/process-instances",
                                     json={"definition_key": key, "variables": variables},
                                     headers=runtime.auth("alice"))


async def view(runtime, instance_id: str) -> dict[str, Any]:
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}", headers=admin(runtime))
    return r.json()


async def job_rows(runtime, kind: str | None = None) -> list[dict[str, Any]]:
    async with runtime.db.transaction() as session:
        query = select(jobs).order_by(jobs.c.due_at)
        if kind is not None:
            query = query.where(jobs.c.kind == kind)
        return [dict(r) for r in (await session.execute(query)).mappings()]


def runner(runtime) -> JobRunner:
    return JobRunner(runtime.client.app.state.ctx)


async def run_at(runtime, moment: dt.datetime) -> int:
    """Run every job due at `moment` (as the worker would then)."""
    return await runner(runtime).run_due(now=moment)


def later(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(**delta)
