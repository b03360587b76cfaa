"""Public entry points of the expression language.

Three kinds of text reach the engine from BPMN attributes:

* conditions (``${amount > 5000}``, ``=amount > 5000``, or a bare ``amount > 5000``)
  go through :func:`compile_expression`;
* single values (``assignee``, ``dueDate``, ``formKey``) that may be plain text, one
  expression, or text with embedded ``${...}`` go through :func:`compile_value`;
* comma-separated lists (``candidateUsers``, ``candidateGroups``) go through
  :func:`compile_list`.

All three are cached by source text, so compiling the same text again is a dictionary
lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple

from bpm_process.expressions.compiler import compile_node, referenced_names
from bpm_process.expressions.errors import ExpressionError
from bpm_process.expressions.lexer import FEEL, JUEL, Token, tokenize
from bpm_process.expressions.parser import Node, parse_tokens
from bpm_process.expressions.values import (
    MAX_STRING_LENGTH,
    as_bool,
    checked_string_length,
    to_text,
)

__all__ = [
    "MAX_SOURCE_LENGTH",
    "Expression",
    "ListExpression",
    "compile_expression",
    "compile_list",
    "compile_value",
    "evaluate_condition",
    "is_expression",
    "split_items",
    "split_template",
]

MAX_SOURCE_LENGTH = 4096
_CACHE_SIZE = 4096
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_OPENING = re.compile(r"[$#]\{")

LITERAL = "literal"
TEMPLATE = "template"


class Expression:
    """A compiled expression; :meth:`evaluate` runs it against a variable mapping.

    ``kind`` is ``"juel"``, ``"feel"``, ``"template"`` (text with embedded
    ``${...}``, always a string) or ``"literal"`` (plain text, from
    :func:`compile_value`). ``names`` are the variables it reads.
    """

    __slots__ = ("_evaluator", "is_constant", "kind", "names", "source")

    def __init__(
        self,
        source: str,
        kind: str,
        evaluator: Callable[[Mapping[str, Any]], Any],
        names: frozenset[str],
        *,
        is_constant: bool = False,
    ) -> None:
        self.source = source
        self.kind = kind
        self.names = names
        self.is_constant = is_constant
        self._evaluator = evaluator

    def evaluate(self, variables: Mapping[str, Any] = _EMPTY) -> Any:
        """Evaluate against ``variables``; a missing variable is null.

        Raises :class:`ExpressionError` for type errors and exceeded limits; no other
        exception escapes.
        """
        try:
            return self._evaluator(variables)
        except ExpressionError as exc:
            if exc.source is None:
                raise ExpressionError(exc.message, source=self.source) from None
            raise
        except RecursionError:
            raise ExpressionError("the value is nested too deeply", source=self.source) from None
        except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
            raise ExpressionError(f"cannot evaluate: {exc}", source=self.source) from None

    def __repr__(self) -> str:
        return f"Expression({self.source!r}, kind={self.kind!r})"


class ListExpression:
    """A comma-separated list of names whose items may be expressions.

    :meth:`evaluate` returns the names as a list of strings without duplicates; an
    expression may yield a list or a comma-separated string.
    """

    __slots__ = ("_items", "is_constant", "names", "source")

    def __init__(self, source: str, items: tuple[Expression, ...]) -> None:
        self.source = source
        self._items = items
        self.is_constant = all(item.is_constant for item in items)
        self.names = frozenset().union(*(item.names for item in items))

    def evaluate(self, variables: Mapping[str, Any] = _EMPTY) -> list[str]:
        result: list[str] = []
        seen: set[str] = set()
        for item in self._items:
            value = item.evaluate(variables)
            if isinstance(value, (list, tuple)):
                for element in value:
                    _add_names(element, result, seen)
            else:
                _add_names(value, result, seen)
        return result

    def __repr__(self) -> str:
        return f"ListExpression({self.source!r})"


def is_expression(text: str) -> bool:
    """True when ``text`` needs evaluating: FEEL (``=...``) or containing ``${``/``#{``."""
    return text.lstrip().startswith("=") or "${" in text or "#{" in text


def evaluate_condition(expression: Expression, variables: Mapping[str, Any]) -> bool:
    """Evaluate a condition; null is false, a non-boolean result is an error."""
    return as_bool(expression.evaluate(variables))


def compile_expression(text: str) -> Expression:
    """Compile a condition or value expression.

    ``=...`` is FEEL; ``${...}``/``#{...}`` is JUEL (text around it makes a string
    template); anything else is read as a bare JUEL expression (``amount > 5000``).
    Raises :class:`ExpressionError` with the position of the problem.
    """
    _check_source(text)
    return _compile_expression(text)


def compile_value(text: str) -> Expression:
    """Compile an attribute value: plain text stays as it is (surrounding whitespace
    removed); ``${x}`` and ``=x`` give the value of ``x``; text mixing both gives a
    string."""
    _check_source(text)
    return _compile_value(text)


def compile_list(text: str) -> ListExpression:
    """Compile a comma-separated list such as ``"alice, bob, ${reviewers}"``."""
    _check_source(text)
    return _compile_list(text)


def _check_source(text: str) -> None:
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, not {type(text).__name__}")
    if len(text) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text)} characters long, the limit is {MAX_SOURCE_LENGTH}"
        )


@lru_cache(maxsize=_CACHE_SIZE)
def _compile_expression(text: str) -> Expression:
    source = text.strip()
    if not source:
        raise ExpressionError("the expression is empty")
    if source.startswith("="):
        tokens, _ = tokenize(source, 1, FEEL, delimited=False)
        return _single(source, FEEL, parse_tokens(source, tokens, FEEL))
    if _OPENING.search(source):
        parts = _template_parts(source)
        if len(parts) == 1 and isinstance(parts[0], Node):
            return _single(source, JUEL, parts[0])
        return _template(source, parts)
    tokens, _ = tokenize(source, 0, JUEL, delimited=False)
    return _single(source, JUEL, parse_tokens(source, tokens, JUEL))


@lru_cache(maxsize=_CACHE_SIZE)
def _compile_value(text: str) -> Expression:
    source = text.strip()
    if not is_expression(source):
        return Expression(source, LITERAL, lambda variables: source, frozenset(),
                          is_constant=True)
    return _compile_expression(source)


@lru_cache(maxsize=_CACHE_SIZE)
def _compile_list(text: str) -> ListExpression:
    source = text.strip()
    if source.startswith("="):
        return ListExpression(source, (_compile_expression(source),))
    items = tuple(_compile_value(item) for item in split_items(source))
    return ListExpression(source, items)


#: names of other engines' objects (Camunda's ``execution``) that an
#: expression here cannot read: a model that uses them would silently get null
ENGINE_OBJECTS = frozenset({"execution"})


def _no_engine_objects(names: frozenset[str]) -> frozenset[str]:
    found = names & ENGINE_OBJECTS
    if found:
        name = sorted(found)[0]
        raise ExpressionError(
            f"{name!r} is another engine's object, not a process variable: expressions here read "
            "process variables only (to pass the business key to a called process, put it in a variable)"
        )
    return names


def _single(source: str, kind: str, node: Node) -> Expression:
    return Expression(source, kind, compile_node(node), _no_engine_objects(referenced_names(node)))


def _template(source: str, parts: list[str | Node]) -> Expression:
    compiled: list[str | Callable[[Mapping[str, Any]], Any]] = [
        part if isinstance(part, str) else compile_node(part) for part in parts
    ]
    names = _no_engine_objects(frozenset().union(*(referenced_names(p) for p in parts if isinstance(p, Node))))

    def render(variables: Mapping[str, Any]) -> str:
        pieces: list[str] = []
        total = 0
        for part in compiled:
            text = part if isinstance(part, str) else to_text(part(variables))
            total += len(text)
            if total > MAX_STRING_LENGTH:
                checked_string_length(total)
            pieces.append(text)
        return "".join(pieces)

    return Expression(source, TEMPLATE, render, names)


class Placeholder(NamedTuple):
    """A ``${...}`` of a text template: where it stands in the source, and its tokens."""

    start: int
    end: int
    tokens: list[Token]


def split_template(source: str) -> list[str | Placeholder]:
    """Text split into literal pieces and ``${...}`` placeholders (not parsed: the tokens
    between the braces); ``\\${`` is a literal ``${``. Raises :class:`ExpressionError`
    for a placeholder that is not closed."""
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    position = 0
    while True:
        match = _OPENING.search(source, position)
        if match is None:
            literal.append(source[position:])
            break
        start = match.start()
        if start > 0 and source[start - 1] == "\\":
            literal.append(source[position : start - 1])
            literal.append(source[start : start + 2])
            position = start + 2
            continue
        literal.append(source[position:start])
        tokens, end = tokenize(source, start + 2, JUEL, delimited=True)
        text = "".join(literal)
        if text:
            parts.append(text)
        literal = []
        parts.append(Placeholder(start, end, tokens))
        position = end
    text = "".join(literal)
    if text:
        parts.append(text)
    return parts


def _template_parts(source: str) -> list[str | Node]:
    """Text split into literal pieces and parsed ``${...}`` expressions."""
    return [part if isinstance(part, str) else parse_tokens(source, part.tokens, JUEL)
            for part in split_template(source)]


def split_items(source: str) -> list[str]:
    """Split a comma-separated list on the commas that are not inside a ``${...}``
    expression; items are stripped and empty items dropped."""
    items: list[str] = []
    start = 0
    position = 0
    length = len(source)
    while position < length:
        char = source[position]
        if char in "$#" and source.startswith("{", position + 1):
            _, position = tokenize(source, position + 2, JUEL, delimited=True)
            continue
        if char == ",":
            items.append(source[start:position])
            start = position + 1
        position += 1
    items.append(source[start:])
    return [item.strip() for item in items if item.strip()]


def _add_names(value: Any, result: list[str], seen: set[str]) -> None:
    if value is None:
        return
    text = value if isinstance(value, str) else to_text(value)
    for piece in text.split(","):
        name = piece.strip()
        if name and name not in seen:
            seen.add(name)
            result.append(name)
