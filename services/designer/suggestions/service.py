"""Rules of the suggestion box: anyone signed in proposes; process designers,
administrators and process owners triage (new → accepted → done, or declined)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Conflict, NotFound, Unprocessable, field_error
from bpm_common.ids import uuid7
from services.designer.definitions import repository as definitions
from services.designer.suggestions.models import NEW, TRANSITIONS, Suggestion
from services.designer.suggestions.schemas import SuggestionIn, TriageIn


async def propose(session: AsyncSession, body: SuggestionIn, author: str) -> Suggestion:
    if not await definitions.key_exists(session, body.process_key):
        raise Unprocessable(
            "no such process",
            errors=[field_error("process_key", f"no process {body.process_key!r}")],
        )
    row = Suggestion(
        id=uuid7(),
        status=NEW,
        author=author,
        created_at=dt.datetime.now(dt.UTC),
        **body.model_dump(),
    )
    session.add(row)
    await session.flush()
    return row


async def get(
    session: AsyncSession, suggestion_id: uuid.UUID, *, for_update: bool = False
) -> Suggestion:
    query = select(Suggestion).where(Suggestion.id == suggestion_id)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None:
        raise NotFound(f"no suggestion {suggestion_id}")
    return row


async def page(
    session: AsyncSession,
    *,
    process_key: str | None,
    status: str | None,
    limit: int,
    after: tuple[dt.datetime, uuid.UUID] | None,
) -> Sequence[Suggestion]:
    query = select(Suggestion)
    if process_key is not None:
        query = query.where(Suggestion.process_key == process_key)
    if status is not None:
        query = query.where(Suggestion.status == status)
    if after is not None:
        query = query.where(tuple_(Suggestion.created_at, Suggestion.id) < tuple_(*after))
    query = query.order_by(Suggestion.created_at.desc(), Suggestion.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


async def triage(
    session: AsyncSession, suggestion_id: uuid.UUID, body: TriageIn, actor: str
) -> Suggestion:
    row = await get(session, suggestion_id, for_update=True)
    if body.status not in TRANSITIONS[row.status]:
        allowed = ", ".join(sorted(TRANSITIONS[row.status])) or "nothing (it is closed)"
        raise Conflict(
            f"a {row.status} suggestion cannot become {body.status}",
            errors=[field_error("status", f"from {row.status}: {allowed}")],
        )
    row.status = body.status
    row.triaged_by, row.triaged_at = actor, dt.datetime.now(dt.UTC)
    if body.note is not None:
        row.triage_note = body.note
    await session.flush()
    return row
