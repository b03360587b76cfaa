"""Rules of data dictionaries: replace as a whole (items keep the order given), read
in a locale, and resolve for published forms (active items only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import NotFound, Unprocessable, field_error
from services.designer.dictionaries import repository as repo
from services.designer.dictionaries.models import Dictionary, DictionaryItem
from services.designer.dictionaries.schemas import DictionaryIn
from services.designer.org.service import check_name


async def get(session: AsyncSession, key: str) -> tuple[Dictionary, list[DictionaryItem]]:
    row = await repo.get(session, key)
    if row is None:
        raise NotFound(f"no dictionary {key!r}")
    return row, (await repo.items_of(session, [key])).get(key, [])


async def list_dictionaries(
    session: AsyncSession, *, limit: int, after: str | None
) -> Sequence[Dictionary]:
    return await repo.page(session, limit=limit, after=after)


async def put(
    session: AsyncSession, key: str, body: DictionaryIn, actor: str
) -> tuple[Dictionary, list[DictionaryItem], bool]:
    """Create or replace a dictionary with its items; returns whether it was created."""
    check_name("key", key)
    codes = [item.code for item in body.items]
    duplicated = sorted({c for c in codes if codes.count(c) > 1})
    if duplicated:
        raise Unprocessable(
            "item codes must be unique",
            errors=[
                field_error(f"items[{codes.index(c)}].code", f"{c!r} appears twice")
                for c in duplicated
            ],
        )
    row = await repo.get(session, key, for_update=True)
    created = row is None
    if row is None:
        row = Dictionary(key=key, updated_by=actor)
        session.add(row)
    row.names, row.description = dict(body.names), body.description
    row.updated_by, row.updated_at = actor, dt.datetime.now(dt.UTC)
    await session.flush()
    await repo.replace_items(
        session,
        key,
        [
            {"code": i.code, "labels": dict(i.labels), "position": n, "active": i.active}
            for n, i in enumerate(body.items)
        ],
    )
    await session.flush()
    return row, (await repo.items_of(session, [key])).get(key, []), created


async def delete(session: AsyncSession, key: str) -> None:
    row = await repo.get(session, key, for_update=True)
    if row is None:
        raise NotFound(f"no dictionary {key!r}")
    await session.delete(row)
    await session.flush()


async def existing(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    return await repo.existing_keys(session, keys)


async def resolved(session: AsyncSession, keys: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Active items of each dictionary as `{"code", "labels"}`, in order, for form schemas."""
    found = await repo.items_of(session, keys)
    return {
        key: [{"code": i.code, "labels": dict(i.labels)} for i in items if i.active]
        for key, items in found.items()
    }


def label(labels: dict[str, str], locale: str | None) -> str:
    return labels.get(locale or "en") or labels.get("en") or next(iter(labels.values()), "")
