"""Keep the runtime's copy of the organisation model from the designer's events.

Events may come twice or out of order: a row only changes for a newer `sequence`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.events.envelope import Event
from services.runtime.org.models import org_departments, org_users
from services.runtime.org.repository import forget_people


async def _upsert(session: AsyncSession, table: Table, key: str, values: dict[str, Any]) -> None:
    forget_people(session)
    stmt = insert(table).values(values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.c[key]],
            set_={k: stmt.excluded[k] for k in values if k != key},
            where=table.c.sequence < stmt.excluded.sequence,
        )
    )


async def on_user_upserted(session: AsyncSession, event: Event) -> None:
    d = event.data
    await _upsert(
        session,
        org_users,
        "username",
        {
            "username": d["username"],
            "display_name": d.get("display_name"),
            "department": d.get("department"),
            "roles": list(d.get("roles") or []),
            "active": bool(d.get("active", True)),
            "deleted": False,
            "sequence": event.sequence,
        },
    )


async def on_user_deleted(session: AsyncSession, event: Event) -> None:
    await _upsert(
        session, org_users, "username",
        {"username": event.data["username"], "active": False, "deleted": True, "sequence": event.sequence},
    )


async def on_department_upserted(session: AsyncSession, event: Event) -> None:
    d = event.data
    await _upsert(
        session,
        org_departments,
        "key",
        {
            "key": d["key"],
            "name": d.get("name"),
            "parent": d.get("parent"),
            "manager": d.get("manager"),
            "deleted": False,
            "sequence": event.sequence,
        },
    )


async def on_department_deleted(session: AsyncSession, event: Event) -> None:
    await _upsert(
        session, org_departments, "key", {"key": event.data["key"], "deleted": True, "sequence": event.sequence}
    )
