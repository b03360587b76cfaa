"""`/api/v1/suggestions`: the suggestion box of each process.

Any signed-in user proposes and reads; `process_designer`, `admin` and
`process_owner` triage.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import Query, Response, status

from bpm_common.auth import DESIGNER, CurrentPrincipal, Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.errors import Unprocessable, field_error
from bpm_common.http import api_router
from services.designer.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    decode_cursor,
    encode_cursor,
)
from services.designer.suggestions import service
from services.designer.suggestions.models import Suggestion
from services.designer.suggestions.schemas import (
    Status,
    SuggestionIn,
    SuggestionOut,
    SuggestionPage,
    TriageIn,
)

router = api_router(prefix="/api/v1/suggestions", tags=["suggestions"])

PROCESS_OWNER = "process_owner"
Triager = Annotated[Principal, require_roles(DESIGNER, PROCESS_OWNER, allow_system=False)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SuggestionOut,
    summary="Propose an improvement",
)
async def propose(
    body: SuggestionIn, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> SuggestionOut:
    row = await service.propose(session, body, principal.username)
    response.headers["Location"] = f"/api/v1/suggestions/{row.id}"
    return _out(row)


@router.get("", response_model=SuggestionPage, summary="Suggestions, newest first")
async def list_suggestions(
    session: SessionDep,
    _: CurrentPrincipal,
    process_key: Annotated[str | None, Query(max_length=255)] = None,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> SuggestionPage:
    position = decode_cursor(cursor, "created_at", "id")
    after = None
    if position is not None:
        try:
            after = (dt.datetime.fromisoformat(position["created_at"]), uuid.UUID(position["id"]))
        except ValueError as exc:
            raise Unprocessable(
                "the cursor is not valid", errors=[field_error("cursor", "not a cursor")]
            ) from exc
    rows = await service.page(
        session, process_key=process_key, status=status_, limit=limit, after=after
    )
    next_cursor = None
    if len(rows) == limit:
        next_cursor = encode_cursor(
            {"created_at": rows[-1].created_at.isoformat(), "id": str(rows[-1].id)}
        )
    return SuggestionPage(items=[_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/{suggestion_id}", response_model=SuggestionOut, summary="One suggestion")
async def get_suggestion(
    suggestion_id: uuid.UUID, session: SessionDep, _: CurrentPrincipal
) -> SuggestionOut:
    return _out(await service.get(session, suggestion_id))


@router.post(
    "/{suggestion_id}/triage",
    response_model=SuggestionOut,
    summary="Accept, decline or mark done (designers, administrators, process owners)",
    responses={409: {"description": "Not a transition from the current status"}},
)
async def triage(
    suggestion_id: uuid.UUID, body: TriageIn, session: SessionDep, principal: Triager
) -> SuggestionOut:
    return _out(await service.triage(session, suggestion_id, body, principal.username))


def _out(row: Suggestion) -> SuggestionOut:
    return SuggestionOut(
        id=row.id,
        process_key=row.process_key,
        title=row.title,
        problem=row.problem,
        proposal=row.proposal,
        expected_effect=row.expected_effect,
        difficulty=row.difficulty,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        author=row.author,
        created_at=row.created_at,
        triaged_by=row.triaged_by,
        triaged_at=row.triaged_at,
        triage_note=row.triage_note,
    )
