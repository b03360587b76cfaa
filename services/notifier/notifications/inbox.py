"""The rules of a person's inbox: they see and mark only their own notifications."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import NotFound, Unprocessable, field_error
from services.notifier.notifications import repository
from services.notifier.notifications.schemas import MarkRead, NotificationOut, NotificationPage
from services.notifier.pagination import decode_cursor, encode_cursor


async def page(
    session: AsyncSession, username: str, *, unread_only: bool, limit: int, cursor: str | None
) -> NotificationPage:
    rows = await repository.page_for(
        session, username, unread_only=unread_only, limit=limit, before=decode_cursor(cursor)
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return NotificationPage(
        items=[NotificationOut.of(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


async def mark_one_read(
    session: AsyncSession, username: str, notification_id: uuid.UUID
) -> NotificationOut:
    """Mark one of the person's notifications read (again: no change); 404 for anyone else's."""
    row = await repository.get_for(session, notification_id, username)
    if row is None:
        raise NotFound(f"no notification {notification_id} in your inbox")
    if row.read_at is None:
        row.read_at = _now()
        await session.flush()
    return NotificationOut.of(row)


async def mark_read(session: AsyncSession, username: str, request: MarkRead) -> int:
    """Mark the listed (or all) unread notifications of the person read; returns how many changed.

    Ids of notifications that are not the person's are ignored, like already read ones.
    """
    if request.all is not None and request.ids is not None:
        raise Unprocessable(
            "give either ids or all, not both",
            errors=[field_error("all", "not allowed together with ids")],
        )
    if request.all is None and request.ids is None:
        raise Unprocessable(
            "give ids or all", errors=[field_error("ids", "required unless all is true")]
        )
    if request.all is not None:
        if request.all is not True:
            raise Unprocessable("all must be true", errors=[field_error("all", "must be true")])
        return await repository.mark_read(session, username, _now())
    return await repository.mark_read(session, username, _now(), ids=request.ids)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
