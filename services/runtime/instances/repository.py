"""Reads of instances and their history, with the caller's right to see them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import and_, any_, exists, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.auth import Principal
from bpm_process.engine import InstanceState
from services.runtime.copies.models import copies
from services.runtime.instances.models import history, instances
from services.runtime.tasks.models import tasks

#: roles that see every instance (process owners, analysts and administrators)
OVERSEERS = frozenset({"admin", "process_designer", "process_owner", "analyst", "system"})


def involvement(username: str, roles: frozenset[str]) -> Any:
    """SQL condition: the instance was started by, has a task for, or was copied to this user."""
    role_list = list(roles)
    task_match = exists().where(
        and_(
            tasks.c.instance_id == instances.c.id,
            or_(
                tasks.c.assignee == username,
                tasks.c.completed_by == username,
                literal(username) == any_(tasks.c.candidate_users),
                tasks.c.candidate_roles.overlap(role_list) if role_list else False,
            ),
        )
    )
    copied = exists().where(and_(copies.c.instance_id == instances.c.id, copies.c.recipient == username))
    return or_(instances.c.initiator == username, task_match, copied)


async def get_visible(
    session: AsyncSession, instance_id: UUID, principal: Principal, roles: frozenset[str]
) -> dict[str, Any] | None:
    query = select(instances).where(instances.c.id == instance_id)
    if not roles.intersection(OVERSEERS):
        query = query.where(involvement(principal.username, roles))
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row else None


def view(row: dict[str, Any]) -> dict[str, Any]:
    state = InstanceState.from_json(row["engine_state"]) if row["engine_state"] else None
    return {
        "id": str(row["id"]),
        "definition_id": str(row["definition_id"]),
        "definition_key": row["definition_key"],
        "definition_version": row["definition_version"],
        "business_key": row["business_key"],
        "initiator": row["initiator"],
        "state": row["state"],
        "suspended": row["suspended"],
        "trial": row["trial"],
        "variables": dict(state.variables) if state else {},
        "active_nodes": list(row["active_nodes"] or []),
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
    }


async def history_of(
    session: AsyncSession, instance_id: UUID, after_id: int | None, limit: int
) -> list[dict[str, Any]]:
    query = select(history).where(history.c.instance_id == instance_id)
    if after_id is not None:
        query = query.where(history.c.id > after_id)
    rows = (await session.execute(query.order_by(history.c.id).limit(limit + 1))).mappings().all()
    return [
        {
            "id": r["id"],
            "at": r["at"],
            "actor": r["actor"],
            "action": r["action"],
            "node_id": r["node_id"],
            "node_name": r["node_name"],
            "task_id": str(r["task_id"]) if r["task_id"] else None,
            "comment": r["comment"],
            "details": r["details"],
            "hash": r["hash"],
        }
        for r in rows
    ]


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    roles: frozenset[str],
    *,
    definition_key: str | None,
    state: str | None,
    business_key: str | None,
    started_by_me: bool,
    before: tuple[Any, Any] | None,
    limit: int,
) -> list[dict[str, Any]]:
    query = select(instances)
    if not roles.intersection(OVERSEERS):
        query = query.where(involvement(principal.username, roles))
    if started_by_me:
        query = query.where(instances.c.initiator == principal.username)
    if definition_key:
        query = query.where(instances.c.definition_key == definition_key)
    if state:
        query = query.where(instances.c.state == state)
    if business_key:
        query = query.where(instances.c.business_key == business_key)
    if before:
        query = query.where(
            or_(
                instances.c.started_at < before[0],
                and_(instances.c.started_at == before[0], instances.c.id < before[1]),
            )
        )
    rows = (
        (await session.execute(query.order_by(instances.c.started_at.desc(), instances.c.id.desc()).limit(limit + 1)))
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]
