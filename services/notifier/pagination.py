"""Opaque cursors for lists ordered newest first by a time-ordered UUID (v7) id."""

from __future__ import annotations

import base64
import binascii
import uuid

from bpm_common.errors import Unprocessable, field_error

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


def encode_cursor(last_id: uuid.UUID) -> str:
    """The cursor of the page after the item `last_id`."""
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, field: str = "cursor") -> uuid.UUID | None:
    """The id a cursor continues after; 422 naming `field` when it is not one of ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if len(raw) != 16:
            raise ValueError("wrong length")
        return uuid.UUID(bytes=raw)
    except (ValueError, binascii.Error) as exc:
        raise Unprocessable(
            "the cursor is not valid",
            errors=[field_error(field, "not a cursor returned by this list")],
        ) from exc
