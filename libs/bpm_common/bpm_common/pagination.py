"""Cursor pagination: `{"items": [...], "next_cursor": ...}` with an opaque cursor.

A cursor is the sort key of the last item returned (e.g. its time and id),
base64-encoded JSON, so a page boundary stays stable while rows are added.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from bpm_common import jsonutil
from bpm_common.errors import BadRequest, field_error

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(jsonutil.dumps_bytes(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = jsonutil.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("invalid cursor", errors=[field_error("cursor", "not a cursor this API issued")]) from exc
    if not isinstance(values, list) or len(values) != arity:
        raise BadRequest("invalid cursor", errors=[field_error("cursor", "not a cursor this API issued")])
    return values


def page(items: list[Any], limit: int, key: Any) -> dict[str, Any]:
    """Build a page from `limit + 1` fetched rows; `key(item)` gives the cursor values."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(*key(items[-1])) if more and items else None}
