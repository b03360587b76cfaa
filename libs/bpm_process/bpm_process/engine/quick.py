"""Shortcuts for the simplest compiled expressions, found once when a graph is compiled.

Most expressions in real models read one variable (``${signer}``, a collection named
``signers``) or compare one variable with a literal (``${amount > 5000}``,
``${outcome == 'rejected'}``). For those the engine looks the variable up where the
token is, without building the full variable context, and decides common value types
directly. Anything else (other types, numeric strings, values that would fail) goes
through the full evaluation, so results and errors stay exactly those of the
expression language.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bpm_process.expressions import Expression, ExpressionError, as_bool
from bpm_process.expressions.lexer import JUEL, tokenize
from bpm_process.expressions.parser import Binary, Literal, Name, parse_tokens

__all__ = ["QuickTest", "quick_test", "variable_name"]

_VARIABLE = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_EQUALITY = frozenset({"==", "!="})
_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def variable_name(expression: Expression) -> str | None:
    """The variable an expression ``${name}`` reads; its value, unchanged, is the
    expression's value for strings, booleans, null and lists. ``None`` for any other
    expression."""
    if expression.kind != JUEL:
        return None
    match = _VARIABLE.fullmatch(expression.source)
    if match is None or expression.names != frozenset({match.group(1)}):
        return None
    return match.group(1)


@dataclass(frozen=True, slots=True)
class QuickTest:
    """A condition ``${variable <operator> literal}``.

    :attr:`decide` gives the condition's result when the variable's value is the
    argument (``None`` when the variable is missing), or ``None`` when only the full
    evaluation can tell."""

    variable: str
    operator: str
    """``==``, ``!=``, ``<``, ``<=``, ``>`` or ``>=``."""
    constant: Any
    """The literal: a ``Decimal`` or a string (and, for ``==``/``!=``, a boolean or
    null)."""
    decide: Callable[[Any], bool | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decide", _decider(self.operator, self.constant))


def _decider(operator_: str, constant: Any) -> Callable[[Any], bool | None]:
    """The decision function for one operator and literal (see :class:`QuickTest`).
    Only values the expression language takes as they are (null, strings, booleans)
    or turns into numbers (integers) are decided."""
    kind = type(constant)
    if operator_ in _EQUALITY:
        negate = operator_ == "!="
        if constant is None:
            def decide_null(value: Any) -> bool | None:
                if value is None:
                    return not negate
                kind = type(value)
                return negate if kind is str or kind is int or kind is bool else None
            return decide_null
        if kind is bool:
            def decide_boolean(value: Any) -> bool | None:
                kind = type(value)
                if value is None or kind is str or kind is int or kind is bool:
                    return (value is constant) is not negate
                return None
            return decide_boolean
        if kind is str:
            def decide_text(value: Any) -> bool | None:
                kind = type(value)
                if kind is str:
                    return (value == constant) is not negate
                if value is None or kind is bool:
                    return negate
                return None  # a number is compared with a numeric string as a number
            return decide_text

        def decide_number(value: Any) -> bool | None:
            kind = type(value)
            if kind is int:
                return (Decimal(value) == constant) is not negate
            if value is None or kind is bool:
                return negate
            return None  # a numeric string is compared as a number
        return decide_number
    compare = _ORDERINGS[operator_]
    if kind is str:
        def order_text(value: Any) -> bool | None:
            if type(value) is str:
                return compare(value, constant)
            return False if value is None else None
        return order_text

    def order_number(value: Any) -> bool | None:
        if type(value) is int:
            return compare(Decimal(value), constant)
        return False if value is None else None
    return order_number


_PROBES: tuple[Any, ...] = (None, "", "x", "0", "1", True, False, 0, 1, -1, 5000, 10**30, [], {})


def quick_test(expression: Expression) -> QuickTest | None:
    """The quick form of a condition that compares one variable with a literal, or
    ``None``. The quick form is checked against the full evaluation on sample values
    before it is used."""
    source = expression.source
    if expression.kind != JUEL or not source.startswith("${") or len(expression.names) != 1:
        return None
    try:
        tokens, end = tokenize(source, 2, JUEL, delimited=True)
        if end != len(source):
            return None
        node = parse_tokens(source, tokens, JUEL)
    except ExpressionError:
        return None
    if not (isinstance(node, Binary) and isinstance(node.left, Name)
            and isinstance(node.right, Literal)):
        return None
    constant = node.right.value
    kind = type(constant)
    if node.operator in _EQUALITY:
        if not (constant is None or kind is bool or kind is str or kind is Decimal):
            return None
    elif node.operator not in _ORDERINGS or not (kind is str or kind is Decimal):
        return None
    if kind is Decimal and not constant.is_finite():
        return None
    test = QuickTest(node.left.name, node.operator, constant)
    probes = (*_PROBES, constant, str(constant), int(constant) if kind is Decimal else 0)
    for probe in probes:
        decided = test.decide(probe)
        if decided is None:
            continue
        try:
            full = as_bool(expression.evaluate({test.variable: probe}))
        except ExpressionError:
            return None
        if full is not decided:
            return None
    return test
