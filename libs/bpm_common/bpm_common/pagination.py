"""Cursor pagination: `{"items": [...], "next_cursor": ...}` with an opaque cursor.

A cursor is the sort key of the last item returned (e.g. its time and id),
base64-encoded JSON, so a page boundary stays stable while rows are added.
`decode_cursor` reads each value with its kind (`moment`, `uuid_value`,
`whole_number`, `text`): a cursor the API did not issue is a 400 naming `cursor`,
whatever it holds.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Callable
from typing import Any
from uuid import UUID

from bpm_common import jsonutil
from bpm_common.errors import BadRequest, field_error

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(jsonutil.dumps_bytes(list(values))).decode().rstrip("=")


def moment(value: Any) -> dt.datetime:
    """A cursor's time (ISO 8601; without an offset, UTC)."""
    if not isinstance(value, str):
        raise TypeError("not a time")
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def uuid_value(value: Any) -> UUID:
    if not isinstance(value, str):
        raise TypeError("not an id")
    return UUID(value)


def whole_number(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not a whole number")
    return value


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a text")
    return value


def decode_cursor(cursor: str | None, *kinds: Callable[[Any], Any]) -> list[Any] | None:
    """The values of `cursor`, one per kind, each read by its kind; None without a cursor."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = jsonutil.loads(raw)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError("not a list of the cursor's values")
        return [kind(value) for kind, value in zip(kinds, values, strict=True)]
    except (binascii.Error, ValueError, TypeError, OverflowError, UnicodeDecodeError) as exc:
        raise BadRequest("invalid cursor", errors=[field_error("cursor", "not a cursor this API issued")]) from exc


def page(items: list[Any], limit: int, key: Any) -> dict[str, Any]:
    """Build a page from `limit + 1` fetched rows; `key(item)` gives the cursor values."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(*key(items[-1])) if more and items else None}
