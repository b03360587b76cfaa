"""Queries on the dictionary tables. Only `flush()`; the unit of work commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.designer.dictionaries.models import Dictionary, DictionaryItem


async def get(session: AsyncSession, key: str, *, for_update: bool = False) -> Dictionary | None:
    query = select(Dictionary).where(Dictionary.key == key)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def page(session: AsyncSession, *, limit: int, after: str | None) -> Sequence[Dictionary]:
    query = select(Dictionary)
    if after is not None:
        query = query.where(Dictionary.key > after)
    return (await session.scalars(query.order_by(Dictionary.key).limit(limit))).all()


async def items_of(session: AsyncSession, keys: Iterable[str]) -> dict[str, list[DictionaryItem]]:
    wanted = sorted(set(keys))
    found: dict[str, list[DictionaryItem]] = {}
    if not wanted:
        return found
    rows = await session.scalars(
        select(DictionaryItem)
        .where(DictionaryItem.dictionary_key.in_(wanted))
        .order_by(DictionaryItem.dictionary_key, DictionaryItem.position)
    )
    for row in rows:
        found.setdefault(row.dictionary_key, []).append(row)
    return found


async def existing_keys(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    return set(
        (await session.scalars(select(Dictionary.key).where(Dictionary.key.in_(wanted)))).all()
    )


async def replace_items(session: AsyncSession, key: str, items: list[dict[str, object]]) -> None:
    await session.execute(delete(DictionaryItem).where(DictionaryItem.dictionary_key == key))
    if items:
        await session.execute(insert(DictionaryItem), [{"dictionary_key": key, **i} for i in items])
