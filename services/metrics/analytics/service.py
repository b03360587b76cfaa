"""Rules of the analytics API: time windows, scopes and pages."""

from __future__ import annotations

import datetime as dt
from itertools import groupby
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import BadRequest, Unprocessable, field_error
from bpm_common.pagination import decode_cursor, encode_cursor
from services.metrics.analytics import repository
from services.metrics.analytics.repository import Scope
from services.metrics.analytics.schemas import (
    ProcessOverview,
    ProcessPage,
    ProcessSummary,
    VersionOverview,
)


def summary_scope(
    key: str,
    *,
    version: int | None,
    include_trial: bool,
    started_from: dt.datetime | None,
    started_to: dt.datetime | None,
) -> Scope:
    """The scope of a summary; a time without a zone is UTC, and the window must not be empty."""
    started_from, started_to = _utc(started_from, "from"), _utc(started_to, "to")
    if started_from is not None and started_to is not None and started_to <= started_from:
        raise Unprocessable(
            "the time window is empty", errors=[field_error("to", "must be later than 'from'")]
        )
    return Scope(key, version, include_trial, started_from, started_to)


async def summarize(session: AsyncSession, scope: Scope) -> ProcessSummary:
    """Counts and cycle times of a process (all zero and null for a key without data)."""
    values = await repository.summary(session, scope)
    return ProcessSummary(key=scope.key, version=scope.version, **values)


async def list_processes(
    session: AsyncSession, *, include_trial: bool, limit: int, cursor: str | None
) -> ProcessPage:
    """Process keys in key order with their versions and instance counts."""
    after = _cursor_key(cursor)
    keys = await repository.process_keys(
        session, include_trial=include_trial, after=after, limit=limit + 1
    )
    page_keys = keys[:limit]
    rows = await repository.version_counts(session, page_keys, include_trial=include_trial)
    items = [
        _overview(key, list(versions)) for key, versions in groupby(rows, key=lambda r: r["key"])
    ]
    next_cursor = encode_cursor(page_keys[-1]) if len(keys) > limit else None
    return ProcessPage(items=items, next_cursor=next_cursor)


def _overview(key: str, versions: list[dict[str, Any]]) -> ProcessOverview:
    counts = {
        f: sum(v[f] for v in versions) for f in ("started", "completed", "running", "terminated")
    }
    started = [v["last_started_at"] for v in versions if v["last_started_at"] is not None]
    return ProcessOverview(
        key=key,
        **counts,
        last_started_at=max(started, default=None),
        versions=[
            VersionOverview(**{k: v for k, v in row.items() if k != "key"}) for row in versions
        ],
    )


def _cursor_key(cursor: str | None) -> str | None:
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    if not isinstance(values[0], str):
        raise BadRequest(
            "invalid cursor", errors=[field_error("cursor", "not a cursor this API issued")]
        )
    return values[0]


def _utc(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise Unprocessable(
            "the time is out of range", errors=[field_error(field, "out of range in UTC")]
        ) from exc
