"""The rules of channel configurations: unique names, usable URLs, secrets sealed at rest."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Conflict, NotFound, Unprocessable, field_error
from services.notifier.channels import repository
from services.notifier.channels.crypto import SecretBox
from services.notifier.channels.models import ChannelConfig
from services.notifier.channels.schemas import ChannelIn, ChannelOut, ChannelPatch
from services.notifier.channels.urls import ChannelUrlError, mask, normalise
from services.notifier.deliveries.models import EMAIL_CHANNEL, IN_APP_CHANNEL, ChannelKind

RESERVED_NAMES = frozenset({EMAIL_CHANNEL, IN_APP_CHANNEL})


def out(row: ChannelConfig) -> ChannelOut:
    return ChannelOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        target=row.target,
        description=row.description,
        enabled=row.enabled,
        default=row.is_default,
        rate_per_minute=row.rate_per_minute,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def create(
    session: AsyncSession, box: SecretBox, request: ChannelIn, actor: str
) -> ChannelConfig:
    await _check_name(session, request.name)
    kind, url = _checked_url(request.url)
    row = ChannelConfig(
        name=request.name,
        kind=kind.value,
        secret_url=box.seal(url),
        target=mask(url),
        description=request.description,
        enabled=request.enabled,
        is_default=request.default,
        rate_per_minute=request.rate_per_minute,
        created_by=actor,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def update(
    session: AsyncSession, box: SecretBox, channel_id: uuid.UUID, request: ChannelPatch
) -> ChannelConfig:
    row = await get(session, channel_id)
    given = request.model_fields_set
    if request.name is not None and request.name != row.name:
        await _check_name(session, request.name)
        row.name = request.name
    if request.url is not None:
        kind, url = _checked_url(request.url)
        row.kind, row.secret_url, row.target = kind.value, box.seal(url), mask(url)
    if "description" in given:
        row.description = request.description
    if request.enabled is not None:
        row.enabled = request.enabled
    if request.default is not None:
        row.is_default = request.default
    if "rate_per_minute" in given:
        row.rate_per_minute = request.rate_per_minute
    await session.flush()
    await session.refresh(row)
    return row


async def get(session: AsyncSession, channel_id: uuid.UUID) -> ChannelConfig:
    row = await repository.get(session, channel_id)
    if row is None:
        raise NotFound(f"no channel {channel_id}")
    return row


async def delete(session: AsyncSession, channel_id: uuid.UUID) -> None:
    """Remove a config; its unsent deliveries become dead letters when their turn comes."""
    await session.delete(await get(session, channel_id))
    await session.flush()


async def _check_name(session: AsyncSession, name: str) -> None:
    if name in RESERVED_NAMES:
        raise Unprocessable(
            f"{name} is a built-in channel", errors=[field_error("name", "reserved name")]
        )
    if await repository.by_name(session, name) is not None:
        raise Conflict(
            f"a channel named {name} exists", errors=[field_error("name", "already taken")]
        )


def _checked_url(raw: str) -> tuple[ChannelKind, str]:
    try:
        return normalise(raw)
    except ChannelUrlError as exc:
        raise Unprocessable(
            "the channel URL is not usable", errors=[field_error("url", str(exc))]
        ) from None
