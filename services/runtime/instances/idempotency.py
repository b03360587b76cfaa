"""`Idempotency-Key`: a retried write answers what the first one answered, without doing it twice."""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.errors import BadRequest, Unprocessable, field_error
from services.runtime.instances.models import idempotency_keys


def fingerprint(request: Any) -> str | None:
    """The request's JSON (a body model's fields, keys sorted), hashed: a retry carries the
    same, another request does not."""
    if request is None:
        return None
    data = request.model_dump(mode="json") if isinstance(request, BaseModel) else jsonutil.jsonable(request)
    return hashlib.sha256(jsonutil.dumps(data, sort_keys=True).encode()).hexdigest()


async def replay(
    session: AsyncSession, key: str | None, username: str, endpoint: str, request: Any = None
) -> tuple[int, Any] | None:
    """The stored answer for this key, or None (then the caller does the work and `remember`s).

    The key sent again with another request (`request`: the body) is refused with 422, as
    the IETF Idempotency-Key draft asks: answering the first request's result would tell
    the client that its second request was carried out."""
    if key is None:
        return None
    if not 1 <= len(key) <= 255:
        raise BadRequest("invalid Idempotency-Key", errors=[field_error("Idempotency-Key", "1 to 255 characters")])
    # serialise concurrent retries of the same key until the first one committed
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(f"{username}\x00{key}".encode())})
    row = (
        await session.execute(
            select(
                idempotency_keys.c.status, idempotency_keys.c.response, idempotency_keys.c.endpoint,
                idempotency_keys.c.request_hash,
            ).where(idempotency_keys.c.key == key, idempotency_keys.c.username == username)
        )
    ).first()
    if row is None:
        return None
    if row.endpoint != endpoint:
        raise BadRequest(
            "Idempotency-Key reused for another request",
            errors=[field_error("Idempotency-Key", f"already used for {row.endpoint}")],
        )
    if row.request_hash is not None and row.request_hash != fingerprint(request):
        raise Unprocessable(
            "Idempotency-Key reused with a different request",
            errors=[field_error("Idempotency-Key", "already used with another body: use a new key for a new request")],
        )
    return row.status, row.response


async def remember(
    session: AsyncSession, key: str | None, username: str, endpoint: str, status: int, body: Any,
    request: Any = None,
) -> None:
    if key is None:
        return
    await session.execute(
        insert(idempotency_keys)
        .values(
            key=key,
            username=username,
            endpoint=endpoint,
            status=status,
            response=jsonutil.jsonable(body),
            request_hash=fingerprint(request),
            created_at=func.now(),
        )
        .on_conflict_do_nothing()
    )
