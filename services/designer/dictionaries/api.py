"""`/api/v1/dictionaries`: data dictionaries for form enumerations.

Writes need `process_designer` or `admin`; reads any signed-in user.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query, Response, status

from bpm_common.auth import DESIGNER, CurrentPrincipal, Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.http import api_router
from services.designer.dictionaries import service
from services.designer.dictionaries.models import Dictionary, DictionaryItem
from services.designer.dictionaries.schemas import (
    DictionaryIn,
    DictionaryOut,
    DictionaryPage,
    DictionarySummary,
    ItemOut,
)
from services.designer.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    decode_cursor,
    encode_cursor,
)

router = api_router(prefix="/api/v1/dictionaries", tags=["dictionaries"])

Designer = Annotated[Principal, require_roles(DESIGNER)]
KeyPath = Annotated[str, Path(max_length=64)]
LocaleQuery = Annotated[Literal["en", "zh-CN"] | None, Query(description="Labels in this locale.")]


@router.get("", response_model=DictionaryPage, summary="List data dictionaries")
async def list_dictionaries(
    session: SessionDep,
    _: CurrentPrincipal,
    locale: LocaleQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> DictionaryPage:
    after = decode_cursor(cursor, "key")
    rows = await service.list_dictionaries(
        session, limit=limit, after=after["key"] if after else None
    )
    next_cursor = encode_cursor({"key": rows[-1].key}) if len(rows) == limit else None
    return DictionaryPage(
        items=[
            DictionarySummary(
                key=r.key,
                name=service.label(r.names, locale),
                names=r.names,
                description=r.description,
                updated_at=r.updated_at,
            )
            for r in rows
        ],
        next_cursor=next_cursor,
    )


@router.get("/{key}", response_model=DictionaryOut, summary="A dictionary with its items in order")
async def get_dictionary(
    key: KeyPath, session: SessionDep, _: CurrentPrincipal, locale: LocaleQuery = None
) -> DictionaryOut:
    row, items = await service.get(session, key)
    return _out(row, items, locale)


@router.put(
    "/{key}",
    response_model=DictionaryOut,
    summary="Create or replace a dictionary and its items",
    responses={201: {"model": DictionaryOut, "description": "Created"}},
)
async def put_dictionary(
    key: KeyPath, body: DictionaryIn, session: SessionDep, principal: Designer, response: Response
) -> DictionaryOut:
    row, items, created = await service.put(session, key, body, principal.username)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _out(row, items, None)


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a dictionary")
async def delete_dictionary(key: KeyPath, session: SessionDep, _: Designer) -> Response:
    await service.delete(session, key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _out(row: Dictionary, items: list[DictionaryItem], locale: str | None) -> DictionaryOut:
    return DictionaryOut(
        key=row.key,
        name=service.label(row.names, locale),
        names=row.names,
        description=row.description,
        items=[
            ItemOut(
                code=i.code, label=service.label(i.labels, locale), labels=i.labels, active=i.active
            )
            for i in items
        ],
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )
