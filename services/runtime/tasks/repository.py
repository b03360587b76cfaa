"""Task queries: the inbox reads only open tasks through partial indexes."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from sqlalchemy import and_, any_, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.tasks.models import tasks

COLUMNS = (
    tasks.c.id, tasks.c.instance_id, tasks.c.definition_key, tasks.c.definition_version, tasks.c.node_id,
    tasks.c.name, tasks.c.assignee, tasks.c.candidate_users, tasks.c.candidate_roles, tasks.c.due_at,
    tasks.c.priority, tasks.c.form_key, tasks.c.state, tasks.c.created_at, tasks.c.completed_at,
    tasks.c.completed_by, tasks.c.comment, tasks.c.owner, tasks.c.delegation_state, tasks.c.last_urged_at,
    tasks.c.time_limit, tasks.c.escalation_level,
)


def workable_by(username: str, roles: frozenset[str]) -> Any:
    """Open tasks assigned to the user, or unassigned and offered to them or a role they hold."""
    offered = [literal(username) == any_(tasks.c.candidate_users)]
    if roles:
        offered.append(tasks.c.candidate_roles.overlap(sorted(roles)))
    return or_(tasks.c.assignee == username, and_(tasks.c.assignee.is_(None), or_(*offered)))


async def list_tasks(
    session: AsyncSession,
    username: str,
    roles: frozenset[str],
    *,
    state: str,
    everyone: bool,
    instance_id: UUID | None,
    definition_key: str | None,
    node_id: str | None,
    after: tuple[dt.datetime, UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    query = select(*COLUMNS).where(tasks.c.state == state)
    if not everyone:
        if state == "open":
            query = query.where(workable_by(username, roles))
        else:
            query = query.where(tasks.c.completed_by == username)
    if instance_id:
        query = query.where(tasks.c.instance_id == instance_id)
    if definition_key:
        query = query.where(tasks.c.definition_key == definition_key)
    if node_id:
        query = query.where(tasks.c.node_id == node_id)
    if after:
        query = query.where(
            or_(tasks.c.created_at > after[0], and_(tasks.c.created_at == after[0], tasks.c.id > after[1]))
        )
    rows = (await session.execute(query.order_by(tasks.c.created_at, tasks.c.id).limit(limit + 1))).mappings().all()
    return [view(r) for r in rows]


async def get_task(session: AsyncSession, task_id: UUID) -> dict[str, Any] | None:
    row = (await session.execute(select(*COLUMNS).where(tasks.c.id == task_id))).mappings().first()
    return view(row) if row else None


def view(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["id"] = str(out["id"])
    out["instance_id"] = str(out["instance_id"])
    out["candidate_users"] = list(out["candidate_users"] or [])
    out["candidate_roles"] = list(out["candidate_roles"] or [])
    return out
