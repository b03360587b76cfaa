"""The whitelisted FEEL built-in functions.

A small, common subset of the DMN/FEEL standard library. Functions receive evaluator
values (numbers are ``Decimal``) and return evaluator values; a null argument where a
value is needed gives null, a value of the wrong type is an :class:`ExpressionError`.
``is defined`` is handled by the compiler because it needs the unevaluated argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, DecimalException
from typing import Any

from bpm_process.expressions.errors import ExpressionError
from bpm_process.expressions.values import (
    CONTEXT,
    MAX_LIST_LENGTH,
    add,
    as_bool,
    contains,
    divide,
    integral,
    internal,
    less,
    number_from_text,
    to_text,
    type_name,
)

__all__ = ["FUNCTIONS", "MULTI_WORD_FUNCTIONS", "FunctionSpec"]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    min_arguments: int
    max_arguments: int | None
    implementation: Callable[[Sequence[Any]], Any]

    def arity_text(self) -> str:
        if self.max_arguments == self.min_arguments:
            count = self.min_arguments
            return f"{count} argument{'s' if count != 1 else ''}"
        if self.max_arguments is None:
            return f"at least {self.min_arguments} argument(s)"
        return f"{self.min_arguments} to {self.max_arguments} arguments"


def _string(value: Any, function: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ExpressionError(f"{function}() needs a string, not a {type_name(value)}")
    return value


def _number(value: Any, function: str) -> Decimal | None:
    value = internal(value)
    if value is None:
        return None
    if type(value) is not Decimal:
        raise ExpressionError(f"{function}() needs a number, not a {type_name(value)}")
    return value


def _items(arguments: Sequence[Any], function: str) -> list[Any] | None:
    """FEEL list functions accept one list or several arguments."""
    if len(arguments) == 1:
        only = arguments[0]
        if only is None:
            return None
        if isinstance(only, (list, tuple)):
            if len(only) > MAX_LIST_LENGTH:
                raise ExpressionError(f"{function}() got a list that is too long")
            return [internal(item) for item in only]
        return [internal(only)]
    return [internal(item) for item in arguments]


def _not(arguments: Sequence[Any]) -> Any:
    return not as_bool(arguments[0], "argument of not()")


def _string_length(arguments: Sequence[Any]) -> Any:
    text = _string(arguments[0], "string length")
    return None if text is None else Decimal(len(text))


def _upper_case(arguments: Sequence[Any]) -> Any:
    text = _string(arguments[0], "upper case")
    return None if text is None else text.upper()


def _lower_case(arguments: Sequence[Any]) -> Any:
    text = _string(arguments[0], "lower case")
    return None if text is None else text.lower()


def _text_test(name: str, test: Callable[[str, str], bool]) -> Callable[[Sequence[Any]], Any]:
    def implementation(arguments: Sequence[Any]) -> Any:
        text = _string(arguments[0], name)
        part = _string(arguments[1], name)
        if text is None or part is None:
            return None
        return test(text, part)

    return implementation


def _substring(arguments: Sequence[Any]) -> Any:
    text = _string(arguments[0], "substring")
    if text is None or arguments[1] is None:
        return None
    start = integral(internal(arguments[1]), "start position of substring()")
    index = start - 1 if start > 0 else len(text) + start
    index = max(index, 0)
    if len(arguments) > 2 and arguments[2] is not None:
        length = integral(internal(arguments[2]), "length of substring()")
        if length < 0:
            raise ExpressionError("the length of substring() cannot be negative")
        return text[index : index + length]
    return text[index:]


def _string_function(arguments: Sequence[Any]) -> Any:
    value = arguments[0]
    return None if value is None else to_text(value, null="null")


def _number_function(arguments: Sequence[Any]) -> Any:
    value = internal(arguments[0])
    if value is None or type(value) is Decimal:
        return value
    if isinstance(value, str):
        return number_from_text(value)
    raise ExpressionError(f"number() needs a string, not a {type_name(value)}")


def _count(arguments: Sequence[Any]) -> Any:
    value = arguments[0]
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise ExpressionError(f"count() needs a list, not a {type_name(value)}")
    return Decimal(len(value))


def _sum(arguments: Sequence[Any]) -> Any:
    items = _items(arguments, "sum")
    if not items:
        return None
    total: Any = Decimal(0)
    for item in items:
        if type(item) is not Decimal:
            raise ExpressionError(f"sum() needs numbers, not a {type_name(item)}")
        total = add(total, item)
    return total


def _mean(arguments: Sequence[Any]) -> Any:
    items = _items(arguments, "mean")
    if not items:
        return None
    return divide(_sum([items]), Decimal(len(items)))


def _extreme(name: str, prefer_low: bool) -> Callable[[Sequence[Any]], Any]:
    def implementation(arguments: Sequence[Any]) -> Any:
        items = _items(arguments, name)
        if not items:
            return None
        best = items[0]
        for item in items[1:]:
            if item is None or best is None:
                return None
            if (less(item, best) if prefer_low else less(best, item)):
                best = item
        return best

    return implementation


def _abs(arguments: Sequence[Any]) -> Any:
    number = _number(arguments[0], "abs")
    return None if number is None else abs(number)


def _rounding(name: str, rounding: str) -> Callable[[Sequence[Any]], Any]:
    def implementation(arguments: Sequence[Any]) -> Any:
        number = _number(arguments[0], name)
        if number is None:
            return None
        scale = 0
        if len(arguments) > 1 and arguments[1] is not None:
            scale = integral(internal(arguments[1]), f"scale of {name}()")
        if not -100 <= scale <= 100:
            raise ExpressionError(f"the scale of {name}() must be between -100 and 100")
        try:
            return number.quantize(Decimal(1).scaleb(-scale), rounding=rounding,
                                   context=CONTEXT)
        except DecimalException:
            raise ExpressionError(f"{name}() cannot round this number") from None

    return implementation


def _list_contains(arguments: Sequence[Any]) -> Any:
    container = arguments[0]
    if container is None:
        return None
    if not isinstance(container, (list, tuple)):
        raise ExpressionError(f"list contains() needs a list, not a {type_name(container)}")
    return contains(container, arguments[1])


def _get_or_else(arguments: Sequence[Any]) -> Any:
    return arguments[1] if arguments[0] is None else arguments[0]


def _get_value(arguments: Sequence[Any]) -> Any:
    container, key = arguments
    if container is None or key is None:
        return None
    if not isinstance(container, Mapping):
        raise ExpressionError(f"get value() needs a map, not a {type_name(container)}")
    return internal(container.get(_string(key, "get value")))


FUNCTIONS: dict[str, FunctionSpec] = {
    "not": FunctionSpec(1, 1, _not),
    "string length": FunctionSpec(1, 1, _string_length),
    "upper case": FunctionSpec(1, 1, _upper_case),
    "lower case": FunctionSpec(1, 1, _lower_case),
    "contains": FunctionSpec(2, 2, _text_test("contains", lambda text, part: part in text)),
    "starts with": FunctionSpec(2, 2, _text_test("starts with", str.startswith)),
    "ends with": FunctionSpec(2, 2, _text_test("ends with", str.endswith)),
    "substring": FunctionSpec(2, 3, _substring),
    "string": FunctionSpec(1, 1, _string_function),
    "number": FunctionSpec(1, 1, _number_function),
    "count": FunctionSpec(1, 1, _count),
    "sum": FunctionSpec(1, None, _sum),
    "mean": FunctionSpec(1, None, _mean),
    "min": FunctionSpec(1, None, _extreme("min", prefer_low=True)),
    "max": FunctionSpec(1, None, _extreme("max", prefer_low=False)),
    "abs": FunctionSpec(1, 1, _abs),
    "floor": FunctionSpec(1, 2, _rounding("floor", ROUND_FLOOR)),
    "ceiling": FunctionSpec(1, 2, _rounding("ceiling", ROUND_CEILING)),
    "decimal": FunctionSpec(2, 2, _rounding("decimal", ROUND_HALF_EVEN)),
    "list contains": FunctionSpec(2, 2, _list_contains),
    "get or else": FunctionSpec(2, 2, _get_or_else),
    "get value": FunctionSpec(2, 2, _get_value),
    # Handled by the compiler (it needs the unevaluated argument); listed for parsing.
    "is defined": FunctionSpec(1, 1, lambda arguments: arguments[0] is not None),
}

MULTI_WORD_FUNCTIONS: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        (tuple(name.split(" ")) for name in FUNCTIONS if " " in name),
        key=len,
        reverse=True,
    )
)
