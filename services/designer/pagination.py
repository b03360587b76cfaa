"""Opaque cursors for `{"items": [...], "next_cursor": ...}` lists."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Query

from bpm_common.errors import Unprocessable, field_error

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Most items to return.")]
CursorQuery = Annotated[
    str | None,
    Query(max_length=512, description="`next_cursor` of the previous page."),
]


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, *fields: str) -> dict[str, Any] | None:
    """The position a cursor encodes; 422 on `cursor` when it is not one of ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise _invalid() from exc
    if not isinstance(position, dict) or any(not isinstance(position.get(f), str) for f in fields):
        raise _invalid()
    return position


def _invalid() -> Unprocessable:
    return Unprocessable(
        "the cursor is not valid", errors=[field_error("cursor", "not a cursor of this list")]
    )
