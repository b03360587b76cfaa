"""Value semantics shared by both syntaxes (JUEL and FEEL).

Values inside the evaluator are ``None`` (null), ``bool``, ``str``, ``Decimal``,
lists (``list``/``tuple``), mappings, dates, times and durations, and :class:`Range`.
Numbers coming from variables are turned into ``Decimal`` when they are read (floats
through ``str``, so ``0.1`` stays ``0.1``). All arithmetic runs in one bounded decimal
context, so no input can make a number grow without limit.

Rules, chosen to be predictable in gateway conditions:

* null compared with ``<``/``>``/``<=``/``>=`` is false; ``null == null`` is true;
* arithmetic with a null operand gives null;
* a string that holds a number is compared with / added to a number as that number
  (the JUEL coercion Camunda 7 / Activiti models rely on, e.g. form values);
* ``+`` on two strings concatenates; any other mix of types is an
  :class:`ExpressionError` naming the types involved;
* in a boolean position null counts as false and the strings ``"true"``/``"false"``
  as the booleans; anything else is an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any

from bpm_process.expressions.errors import ExpressionError

MAX_STRING_LENGTH = 1024 * 1024
MAX_LIST_LENGTH = 100_000
MAX_EXPONENT = 10_000

CONTEXT = Context(
    prec=34,
    rounding=ROUND_HALF_EVEN,
    Emax=6144,
    Emin=-6143,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)

_NUMBER_TEXT = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?\s*")
_TEMPORAL = (datetime, date, time, timedelta)


@dataclass(frozen=True, slots=True)
class Range:
    """An interval such as FEEL's ``[1..5]`` or ``(0..100]``; used with ``in``."""

    low: Any
    high: Any
    low_closed: bool
    high_closed: bool

    def contains(self, value: Any) -> bool:
        if value is None:
            return False
        if self.low is not None:
            if less(value, self.low) or (not self.low_closed and equals(value, self.low)):
                return False
        if self.high is not None:
            if less(self.high, value) or (not self.high_closed and equals(value, self.high)):
                return False
        return True


def type_name(value: Any) -> str:
    """A user-facing name for the type of a value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (Decimal, int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, datetime):
        return "date-time"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    if isinstance(value, timedelta):
        return "duration"
    if isinstance(value, Range):
        return "range"
    return "unsupported value"


def internal(value: Any) -> Any:
    """Turn a value read from the variables into an evaluator value."""
    kind = type(value)
    if kind is str or kind is Decimal or kind is bool or value is None:
        if kind is Decimal and not value.is_finite():
            raise ExpressionError("numbers must be finite")
        return value
    if kind is int:
        return Decimal(value)
    if kind is float:
        if not math.isfinite(value):
            raise ExpressionError("numbers must be finite")
        return Decimal(repr(value))
    if isinstance(value, (list, tuple, Range) + _TEMPORAL) or isinstance(value, Mapping):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return Decimal(int(value))
    if isinstance(value, float):
        return internal(float(value))
    if isinstance(value, Decimal):
        return internal(Decimal(value))
    if isinstance(value, str):
        return str(value)
    raise ExpressionError(f"values of type {type(value).__name__} cannot be used in expressions")


def number_from_text(text: str) -> Decimal | None:
    """The number a string holds, or ``None`` when it does not hold one."""
    if len(text) > 100 or _NUMBER_TEXT.fullmatch(text) is None:
        return None
    try:
        return CONTEXT.create_decimal(text.strip())
    except DecimalException:
        raise ExpressionError(f"the number {text.strip()!r} is too large") from None


def as_bool(value: Any, what: str = "condition") -> bool:
    """Interpret a value in a boolean position."""
    if value is True or value is False:
        return value
    if value is None:
        return False
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    raise ExpressionError(f"the {what} must be a boolean, but it is a {type_name(value)}")


def _spelled_boolean(value: Any) -> bool | None:
    """``value`` as a boolean when it is one or spells one ("true"/"false", any case)."""
    if value is True or value is False:
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return None


def is_empty(value: Any) -> bool:
    """JUEL's ``empty``: null, an empty string, list or map."""
    if value is None:
        return True
    if isinstance(value, (str, list, tuple)) or isinstance(value, Mapping):
        return len(value) == 0
    return False


def _numeric_pair(left: Any, right: Any) -> tuple[Decimal, Decimal] | None:
    """Both operands as numbers, applying the numeric-string coercion; ``None`` when the
    pair is not numeric."""
    left_is_number = type(left) is Decimal
    right_is_number = type(right) is Decimal
    if left_is_number and right_is_number:
        return left, right
    if left_is_number and isinstance(right, str):
        number = number_from_text(right)
        return (left, number) if number is not None else None
    if right_is_number and isinstance(left, str):
        number = number_from_text(left)
        return (number, right) if number is not None else None
    return None


def equals(left: Any, right: Any) -> bool:
    """Equality for ``==``/``eq``/``=`` and for membership tests."""
    left = internal(left)
    right = internal(right)
    if left is None or right is None:
        return left is None and right is None
    left_type = type(left)
    if left_type is bool or type(right) is bool:
        # the text "true" or "false" is the boolean it spells, as a condition reads it and as
        # JUEL coerces it (``${approved == true}`` with approved = "true"); other text is not
        return _spelled_boolean(left) is _spelled_boolean(right)
    if left_type is Decimal or type(right) is Decimal:
        pair = _numeric_pair(left, right)
        return pair is not None and pair[0] == pair[1]
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(
            equals(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        if len(left) != len(right):
            return False
        for key, value in left.items():
            if key not in right or not equals(value, right[key]):
                return False
        return True
    if isinstance(left, _TEMPORAL) and isinstance(right, _TEMPORAL):
        try:
            return bool(left == right)
        except TypeError:
            return False
    if isinstance(left, Range) and isinstance(right, Range):
        return left == right
    return False


def _ordering_pair(left: Any, right: Any, operator: str) -> tuple[Any, Any] | None:
    """The operands in a form Python can order, ``None`` when one is null."""
    if left is None or right is None:
        return None
    pair = _numeric_pair(left, right)
    if pair is not None:
        return pair
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    if type(left) is not bool and type(right) is not bool:
        for kind in (datetime, date, time, timedelta):
            if isinstance(left, kind) and isinstance(right, kind):
                if kind is date and (isinstance(left, datetime) != isinstance(right, datetime)):
                    break
                return left, right
    raise ExpressionError(
        f"cannot compare a {type_name(left)} with a {type_name(right)} using {operator!r}"
    )


def less(left: Any, right: Any) -> bool:
    pair = _ordering_pair(left, right, "<")
    return pair is not None and _ordered(lambda a, b: a < b, pair)


def less_equal(left: Any, right: Any) -> bool:
    pair = _ordering_pair(left, right, "<=")
    return pair is not None and _ordered(lambda a, b: a <= b, pair)


def greater(left: Any, right: Any) -> bool:
    pair = _ordering_pair(left, right, ">")
    return pair is not None and _ordered(lambda a, b: a > b, pair)


def greater_equal(left: Any, right: Any) -> bool:
    pair = _ordering_pair(left, right, ">=")
    return pair is not None and _ordered(lambda a, b: a >= b, pair)


def _ordered(test: Any, pair: tuple[Any, Any]) -> bool:
    try:
        return bool(test(pair[0], pair[1]))
    except TypeError:
        # e.g. a date-time with a time zone against one without
        raise ExpressionError(
            "cannot compare a date-time that has a time zone with one that has none"
        ) from None


def _decimal_operation(name: str, operation: Any, left: Decimal, right: Decimal) -> Decimal:
    try:
        return operation(left, right)
    except DivisionByZero:
        raise ExpressionError("division by zero") from None
    except Overflow:
        raise ExpressionError("the result of the calculation is too large") from None
    except (InvalidOperation, DecimalException):
        raise ExpressionError(f"invalid {name}") from None


def add(left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    if type(left) is Decimal and type(right) is Decimal:
        return _decimal_operation("addition", CONTEXT.add, left, right)
    if isinstance(left, str) and isinstance(right, str):
        if len(left) + len(right) > MAX_STRING_LENGTH:
            checked_string_length(len(left) + len(right))
        return left + right
    pair = _numeric_pair(left, right)
    if pair is not None:
        return _decimal_operation("addition", CONTEXT.add, *pair)
    temporal = _temporal_sum(left, right)
    if temporal is not None:
        return temporal
    raise ExpressionError(f"cannot add a {type_name(left)} and a {type_name(right)}")


def subtract(left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    pair = _numeric_pair(left, right)
    if pair is not None:
        return _decimal_operation("subtraction", CONTEXT.subtract, *pair)
    if isinstance(right, timedelta) and isinstance(left, (datetime, date, timedelta)):
        return _temporal(lambda: left - right)
    if isinstance(left, datetime) and isinstance(right, datetime):
        return _temporal(lambda: left - right)
    if (
        isinstance(left, date)
        and isinstance(right, date)
        and not isinstance(left, datetime)
        and not isinstance(right, datetime)
    ):
        return _temporal(lambda: left - right)
    raise ExpressionError(f"cannot subtract a {type_name(right)} from a {type_name(left)}")


def multiply(left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    pair = _numeric_pair(left, right)
    if pair is not None:
        return _decimal_operation("multiplication", CONTEXT.multiply, *pair)
    raise ExpressionError(f"cannot multiply a {type_name(left)} by a {type_name(right)}")


def divide(left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    pair = _numeric_pair(left, right)
    if pair is not None:
        return _decimal_operation("division", CONTEXT.divide, *pair)
    raise ExpressionError(f"cannot divide a {type_name(left)} by a {type_name(right)}")


def remainder(left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    pair = _numeric_pair(left, right)
    if pair is not None:
        return _decimal_operation("remainder", CONTEXT.remainder, *pair)
    raise ExpressionError(
        f"cannot take the remainder of a {type_name(left)} by a {type_name(right)}"
    )


def power(left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    pair = _numeric_pair(left, right)
    if pair is None:
        raise ExpressionError(
            f"cannot raise a {type_name(left)} to the power of a {type_name(right)}"
        )
    base, exponent = pair
    if not base and exponent < 0:
        # Decimal answers Infinity here without a signal; a variable must never hold one
        raise ExpressionError("zero cannot be raised to a negative power (division by zero)")
    if abs(exponent) > MAX_EXPONENT:
        raise ExpressionError(f"the exponent must be between -{MAX_EXPONENT} and {MAX_EXPONENT}")
    if base.adjusted() > 1000 and exponent > 1:
        raise ExpressionError("the result of the calculation is too large")
    return _decimal_operation("exponentiation", CONTEXT.power, base, exponent)


def negate(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is Decimal:
        return -value
    if isinstance(value, str):
        number = number_from_text(value)
        if number is not None:
            return -number
    if isinstance(value, timedelta):
        return -value
    raise ExpressionError(f"cannot negate a {type_name(value)}")


def _temporal_sum(left: Any, right: Any) -> Any:
    if isinstance(right, timedelta) and isinstance(left, (datetime, date, timedelta)):
        return _temporal(lambda: left + right)
    if isinstance(left, timedelta) and isinstance(right, (datetime, date)):
        return _temporal(lambda: right + left)
    return None


def _temporal(operation: Any) -> Any:
    try:
        return operation()
    except OverflowError:
        raise ExpressionError("the date is out of range") from None
    except TypeError:
        raise ExpressionError(
            "cannot combine a date-time that has a time zone with one that has none"
        ) from None


def checked_string(value: str) -> str:
    """Refuse strings longer than the limit."""
    if len(value) > MAX_STRING_LENGTH:
        checked_string_length(len(value))
    return value


def checked_string_length(length: int) -> str:
    raise ExpressionError(
        f"the resulting string would be {length} characters long, "
        f"the limit is {MAX_STRING_LENGTH}"
    )


def format_number(value: Decimal) -> str:
    """A number as people write it: ``5000``, ``0.30``, ``-12.5`` (no exponent)."""
    return format(value, "f")


def to_text(value: Any, *, null: str = "", _depth: int = 0) -> str:
    """Render a value as text (templates, ``string()``); null renders as ``null``."""
    if _depth > 32:
        raise ExpressionError("the value is nested too deeply to be shown as text")
    if value is None:
        return null
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (Decimal, int, float)):
        return format_number(internal(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration_text(value)
    if isinstance(value, (list, tuple)):
        parts = []
        total = 2
        for item in value:
            text = to_text(item, null="null", _depth=_depth + 1)
            if isinstance(item, str):
                text = '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
            total += len(text) + 2
            if total > MAX_STRING_LENGTH:
                checked_string_length(total)
            parts.append(text)
        return "[" + ", ".join(parts) + "]"
    if isinstance(value, Mapping):
        parts = []
        total = 2
        for key, item in value.items():
            text = to_text(item, null="null", _depth=_depth + 1)
            if isinstance(item, str):
                text = '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
            entry = f"{key}: {text}"
            total += len(entry) + 2
            if total > MAX_STRING_LENGTH:
                checked_string_length(total)
            parts.append(entry)
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, Range):
        low = "[" if value.low_closed else "("
        high = "]" if value.high_closed else ")"
        return f"{low}{to_text(value.low, null='null')}..{to_text(value.high, null='null')}{high}"
    raise ExpressionError(f"cannot show a {type_name(value)} as text")


def _duration_text(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    days = value.days
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}P"
    if days:
        text += f"{days}D"
    if hours or minutes or seconds or value.microseconds or not days:
        text += "T"
        if hours:
            text += f"{hours}H"
        if minutes:
            text += f"{minutes}M"
        if seconds or value.microseconds or not (hours or minutes):
            amount = Decimal(seconds) + Decimal(value.microseconds) / Decimal(1_000_000)
            text += f"{format(amount.normalize(), 'f')}S"
    return text


def contains(container: Any, value: Any) -> bool:
    """Membership for ``in``: an item of a list, inside a range, or equal to a value."""
    if isinstance(container, (list, tuple)):
        return any(equals(value, item) for item in container)
    if isinstance(container, Range):
        return container.contains(value)
    return equals(value, container)


def integral(value: Any, what: str) -> int:
    """A number that must be a whole number (an index, a scale)."""
    if type(value) is not Decimal:
        raise ExpressionError(f"the {what} must be a number, but it is a {type_name(value)}")
    if value != value.to_integral_value():
        raise ExpressionError(f"the {what} must be a whole number")
    if abs(value) > 10**9:
        raise ExpressionError(f"the {what} is out of range")
    return int(value)
