"""What a person's preferences mean when a notification goes out: language, time zone,
channels per kind, quiet hours and the daily digest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from services.notifier.notifications.kinds import DIGESTED_KINDS, URGENT_KINDS, Kind
from services.notifier.notifications.templates import zone
from services.notifier.preferences.models import NotificationPreference

EVERY_KIND = "*"


class PreferenceFields(Protocol):
    """A stored preferences row: the table's model, or a query row with these columns."""

    @property
    def language(self) -> str | None: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def channels(self) -> dict[str, list[str]] | None: ...
    @property
    def chat_ids(self) -> dict[str, Any] | None: ...
    @property
    def quiet_start(self) -> dt.time | None: ...
    @property
    def quiet_end(self) -> dt.time | None: ...
    @property
    def digest_enabled(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Effective:
    """A person's preferences as the rules read them (defaults for people without a row)."""

    language: str | None = None
    timezone: str | None = None
    channels: dict[str, list[str]] = field(default_factory=dict)
    chat_ids: dict[str, Any] = field(default_factory=dict)
    quiet_start: dt.time | None = None
    quiet_end: dt.time | None = None
    digest: bool = False

    @classmethod
    def of(cls, row: PreferenceFields | None) -> Effective:
        if row is None:
            return cls()
        return cls(
            language=row.language,
            timezone=row.timezone,
            channels=dict(row.channels or {}),
            chat_ids=dict(row.chat_ids or {}),
            quiet_start=row.quiet_start,
            quiet_end=row.quiet_end,
            digest=row.digest_enabled,
        )

    def channels_for(self, kind: Kind, defaults: Sequence[str]) -> list[str]:
        """The outgoing channels the person wants for `kind` (before availability checks)."""
        if kind in DIGESTED_KINDS and self.digest:
            return []
        chosen = self.channels.get(kind.value, self.channels.get(EVERY_KIND))
        return list(defaults if chosen is None else chosen)

    def held_until(self, kind: Kind, now: dt.datetime) -> dt.datetime | None:
        """When a `kind` message may go out, if the person's quiet hours hold it now."""
        if kind in URGENT_KINDS or self.quiet_start is None or self.quiet_end is None:
            return None
        return quiet_until(now, self.quiet_start, self.quiet_end, self.timezone)


def quiet_until(
    now: dt.datetime, start: dt.time, end: dt.time, timezone: str | None
) -> dt.datetime | None:
    """The end of the quiet window around `now` (UTC), or None outside it (or if empty)."""
    if start == end:
        return None
    tz = zone(timezone)
    local = now.astimezone(tz)
    moment = local.time().replace(tzinfo=None)
    if start < end:
        inside, ends_tomorrow = start <= moment < end, False
    else:  # the window spans midnight
        inside, ends_tomorrow = (moment >= start or moment < end), moment >= start
    if not inside:
        return None
    day = local.date() + dt.timedelta(days=1 if ends_tomorrow else 0)
    return dt.datetime.combine(day, end, tzinfo=tz).astimezone(dt.UTC)


def digest_day(row: NotificationPreference, now: dt.datetime) -> dt.date | None:
    """The local date whose digest is due for the person at `now`, if any."""
    if not row.digest_enabled:
        return None
    local = now.astimezone(zone(row.timezone))
    at = row.digest_time or dt.time(8, 30)
    if local.time().replace(tzinfo=None) < at or row.digest_sent_on == local.date():
        return None
    return local.date()
