"""Reading event payloads: a payload that does not match its contract is poison, not a retry."""

from __future__ import annotations

import uuid
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from bpm_common.events.envelope import Event
from bpm_common.events.inbox import PoisonEvent

M = TypeVar("M", bound=BaseModel)


def parse_data(model: type[M], event: Event) -> M:
    """The event's `data` as `model`; raises `PoisonEvent` naming the fields at fault."""
    try:
        return model.model_validate(event.data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'data'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PoisonEvent(f"{event.type} has invalid data: {problems}") from exc


def event_uuid(event: Event) -> uuid.UUID:
    """The event id as a UUID (the contract says UUIDv7)."""
    try:
        return uuid.UUID(event.id)
    except ValueError as exc:
        raise PoisonEvent(f"event id {event.id[:80]!r} is not a UUID") from exc
