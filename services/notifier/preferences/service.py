"""Reading and replacing a person's preferences, with every choice checked."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Unprocessable, field_error
from services.notifier.channels import repository as channels
from services.notifier.deliveries.models import EMAIL_CHANNEL, ChannelKind
from services.notifier.notifications.kinds import Kind
from services.notifier.notifications.templates import is_zone
from services.notifier.preferences import repository
from services.notifier.preferences.rules import EVERY_KIND
from services.notifier.preferences.schemas import (
    Digest,
    PreferencesIn,
    PreferencesOut,
    QuietHours,
)

_KINDS = {k.value for k in Kind} | {EVERY_KIND}
_CHAT_KINDS = {k.value for k in ChannelKind} - {ChannelKind.IN_APP, ChannelKind.EMAIL}


async def available_channels(session: AsyncSession, *, email: bool) -> list[str]:
    """What a person may choose: the built-in email channel (if set up) and enabled configs."""
    names = [c.name for c in await channels.enabled(session)]
    return ([EMAIL_CHANNEL] if email else []) + names


async def read(session: AsyncSession, username: str, *, email: bool) -> PreferencesOut:
    row = await repository.get(session, username)
    available = await available_channels(session, email=email)
    if row is None:
        return PreferencesOut(username=username, available_channels=available, updated_at=None)
    quiet = (
        QuietHours(start=row.quiet_start, end=row.quiet_end)
        if row.quiet_start is not None and row.quiet_end is not None
        else None
    )
    return PreferencesOut(
        username=username,
        language=row.language,
        timezone=row.timezone,
        channels=row.channels,
        chat_ids=row.chat_ids,
        quiet_hours=quiet,
        digest=Digest(enabled=row.digest_enabled, time=row.digest_time or Digest().time),
        available_channels=available,
        updated_at=row.updated_at,
    )


async def replace(
    session: AsyncSession, username: str, request: PreferencesIn, *, email: bool
) -> PreferencesOut:
    available = set(await available_channels(session, email=email))
    errors = _problems(request, available)
    if errors:
        raise Unprocessable("the preferences have invalid fields", errors=errors)
    values: dict[str, Any] = {
        "language": request.language,
        "timezone": request.timezone,
        "channels": {k: list(dict.fromkeys(v)) for k, v in request.channels.items()},
        "chat_ids": request.chat_ids,
        "quiet_start": request.quiet_hours.start if request.quiet_hours else None,
        "quiet_end": request.quiet_hours.end if request.quiet_hours else None,
        "digest_enabled": request.digest.enabled,
        "digest_time": request.digest.time,
    }
    await repository.put(session, username, values)
    await session.flush()
    session.expire_all()
    return await read(session, username, email=email)


def _problems(request: PreferencesIn, available: set[str]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if request.timezone is not None and not is_zone(request.timezone):
        errors.append(field_error("timezone", "not a known IANA time zone"))
    for kind, names in request.channels.items():
        if kind not in _KINDS:
            errors.append(field_error(f"channels.{kind}", "not a notification kind (or *)"))
            continue
        for index, name in enumerate(names):
            if name not in available:
                errors.append(
                    field_error(f"channels.{kind}.{index}", f"no channel {name} to choose")
                )
    for kind in request.chat_ids:
        if kind not in _CHAT_KINDS:
            errors.append(field_error(f"chat_ids.{kind}", "not a chat channel kind"))
    return errors
