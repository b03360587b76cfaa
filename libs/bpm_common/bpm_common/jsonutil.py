"""JSON that keeps decimal numbers exact.

Amounts travel as JSON numbers. Parsing turns every non-integer number into
`Decimal`; writing emits a `Decimal` as a JSON number when the shortest float text
is the same value, otherwise as a string, so no digit is ever silently lost.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

MAX_DIGITS = 1000
"""The most significant digits a JSON number read may have, and the largest decimal
exponent either way (`1e999999999` is short text for a number whose integer form alone
takes minutes to write out). Integers are bounded by Python's own limit (4 300 digits)."""


class NumberOutOfRange(ValueError):
    """A JSON number beyond `MAX_DIGITS`."""


def out_of_range(value: Decimal) -> bool:
    return value.is_finite() and bool(value) and (
        abs(value.adjusted()) > MAX_DIGITS or len(value.as_tuple().digits) > MAX_DIGITS
    )


def _exact(text: str) -> Decimal:
    value = Decimal(text)
    if out_of_range(value):
        raise NumberOutOfRange(f"the number {text[:40]}... is beyond {MAX_DIGITS} digits or exponent ±{MAX_DIGITS}")
    return value


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_to_json(value)
    if isinstance(value, dt.datetime):
        return isoformat(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def decimal_to_json(value: Decimal) -> int | float | str:
    """The JSON form of a Decimal that loses nothing: int, float with the same digits, or text."""
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value() and value.adjusted() < MAX_DIGITS:
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) == value:
        return as_float
    return str(value)


def isoformat(value: dt.datetime) -> str:
    """ISO 8601 in UTC with a `Z`, the one time format of the API."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)


def dumps_bytes(value: Any) -> bytes:
    return dumps(value).encode()


def loads(text: str | bytes) -> Any:
    """JSON with every non-integer number a `Decimal`; `NumberOutOfRange` (a ValueError)
    for a number beyond `MAX_DIGITS`."""
    return json.loads(text, parse_float=_exact)


def jsonable(value: Any) -> Any:
    """Turn a value into plain JSON types with the same rules as `dumps`."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return _default(value)
