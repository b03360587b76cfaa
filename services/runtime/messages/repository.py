"""Queries for correlation: waiting subscriptions and the start events of live definitions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import NotFound, Unprocessable
from services.runtime.definitions.service import DefinitionRef, definition_to_start
from services.runtime.instances.models import instances
from services.runtime.messages.models import start_events
from services.runtime.subscriptions.models import subscriptions

#: most subscriptions one message or signal is delivered to in one unit of work
MAX_TARGETS = 1000


@dataclass(frozen=True, slots=True)
class Waiting:
    subscription_id: UUID
    instance_id: UUID
    node_id: str


@dataclass(frozen=True, slots=True)
class StartTarget:
    definition: DefinitionRef
    node_id: str


async def waiting_for_message(
    session: AsyncSession, name: str, correlation_key: str | None, business_key: str | None
) -> list[Waiting]:
    """Message subscriptions of active instances, oldest first. A given correlation key or
    business key must match; an absent one does not filter."""
    query = (
        select(subscriptions.c.id, subscriptions.c.instance_id, subscriptions.c.node_id)
        .join(instances, instances.c.id == subscriptions.c.instance_id)
        .where(subscriptions.c.kind == "message", subscriptions.c.name == name, instances.c.state == "active")
    )
    if correlation_key is not None:
        query = query.where(subscriptions.c.correlation_key == correlation_key)
    if business_key is not None:
        query = query.where(instances.c.business_key == business_key)
    query = query.order_by(subscriptions.c.created_at, subscriptions.c.id).limit(MAX_TARGETS + 1)
    return [Waiting(r.id, r.instance_id, r.node_id) for r in (await session.execute(query)).all()]


async def waiting_for_signal(
    session: AsyncSession, name: str, thrown_at: dt.datetime | None = None
) -> dict[UUID, list[str]]:
    """Active, not suspended instances with a subscription for the signal, in id order, with
    the ids of those subscriptions. `thrown_at` (the database's time of the transaction
    that threw it): only subscriptions opened until then; a catch reached later does not
    receive a signal thrown before it waited."""
    query = (
        select(subscriptions.c.instance_id, subscriptions.c.id)
        .join(instances, instances.c.id == subscriptions.c.instance_id)
        .where(
            subscriptions.c.kind == "signal", subscriptions.c.name == name,
            instances.c.state == "active", instances.c.suspended.is_(False),
        )
        .order_by(subscriptions.c.instance_id, subscriptions.c.created_at)
    )
    if thrown_at is not None:
        query = query.where(subscriptions.c.created_at <= thrown_at)
    waiting: dict[UUID, list[str]] = {}
    for row in (await session.execute(query)).all():
        waiting.setdefault(row.instance_id, []).append(str(row.id))
    return waiting


async def live_starts(session: AsyncSession, kind: str, name: str) -> list[StartTarget]:
    """Start events catching `name` in the latest live version of each process."""
    rows = (
        await session.execute(
            select(start_events.c.definition_id, start_events.c.definition_key, start_events.c.node_id)
            .where(start_events.c.kind == kind, start_events.c.name == name)
            .order_by(start_events.c.definition_key, start_events.c.node_id)
        )
    ).all()
    latest: dict[str, DefinitionRef | None] = {}
    found: list[StartTarget] = []
    for row in rows:
        if row.definition_key not in latest:
            latest[row.definition_key] = await latest_live(session, row.definition_key)
        ref = latest[row.definition_key]
        if ref is not None and ref.id == row.definition_id:
            found.append(StartTarget(ref, row.node_id))
    return found


async def latest_live(session: AsyncSession, key: str) -> DefinitionRef | None:
    """The version a new instance of `key` starts on, None when there is none that runs."""
    try:
        return await definition_to_start(session, key, frozenset())
    except (NotFound, Unprocessable):
        return None
