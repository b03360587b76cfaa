"""JSON body templates of the HTTP connector: ``<bpm:body>{"name": "${name}"}</bpm:body>``.

A body template whose text starts with ``{`` or ``[`` is JSON with placeholders. Put in
as plain text, a value could write JSON of its own: ``x", "admin": true, "y": "z`` in
``"${name}"`` would add a key to the request, and ``O"Brien`` would break it. So each
placeholder is rendered by where it stands:

* inside a JSON string literal, as the value's text (the rules of text templates:
  :func:`~bpm_process.expressions.to_text`, null as nothing) escaped for a JSON string;
* elsewhere, as the value's JSON: numbers as numbers (decimals exact), ``true``,
  ``false``, ``null``, text as a JSON string, lists and maps as JSON.

A template is accepted only when it is valid JSON with every placeholder taken as a
neutral value (blank string content inside a string literal, ``null`` elsewhere); since
each rendered placeholder is then a whole JSON value or string content, every body
rendered from it is valid JSON too. ``null`` rather than ``0`` is the neutral value
because no number may follow or precede it: ``-${x}`` or ``1${x}`` would render a
negative or a text value into invalid JSON, and they are refused here.

Pure (no I/O): the engine's compiler and the designer's lint both read templates with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bpm_process.expressions import (
    MAX_SOURCE_LENGTH,
    MAX_STRING_LENGTH,
    Expression,
    ExpressionError,
    compile_expression,
    to_text,
)
from bpm_process.expressions.api import split_template

__all__ = [
    "Slot",
    "compile_json_template",
    "is_json_template",
    "json_template_problem",
    "json_text",
    "split_json_template",
    "string_content",
]

_NOT_JSON = "a body starting with { or [ is a JSON template, and this one is not valid JSON"
_MAX_DEPTH = 32
"""How deeply a list or map may nest to be written as JSON (as :func:`to_text` allows)."""


@dataclass(frozen=True, slots=True)
class Slot:
    """A placeholder of a JSON template: its ``${...}`` text and whether it stands inside
    a JSON string literal."""

    source: str
    in_string: bool


def is_json_template(text: str) -> bool:
    """Whether a body template is JSON: its text starts with ``{`` or ``[``."""
    return text.lstrip()[:1] in ("{", "[")


def split_json_template(text: str) -> tuple[str | Slot, ...]:
    """The template's literal pieces and placeholders, in order.

    Placeholders are found as text templates find them (``\\${`` is a literal ``${``);
    where each stands is read from the literal JSON before it. Raises
    :class:`ExpressionError` for a placeholder that is not closed or does not parse.
    """
    source = text.strip()
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            f"the body is {len(source)} characters long, the limit is {MAX_SOURCE_LENGTH}")
    parts: list[str | Slot] = []
    scanner = _StringScanner()
    for part in split_template(source):
        if isinstance(part, str):
            parts.append(part)
            scanner.feed(part)
        else:
            parts.append(Slot(source[part.start : part.end], scanner.in_string))
    return tuple(parts)


class _StringScanner:
    """Follows JSON text piece by piece to tell whether it ends inside a string literal."""

    __slots__ = ("escaped", "in_string")

    def __init__(self) -> None:
        self.in_string = False
        self.escaped = False

    def feed(self, text: str) -> None:
        for char in text:
            if self.escaped:
                self.escaped = False
            elif not self.in_string:
                self.in_string = char == '"'
            elif char == "\\":
                self.escaped = True
            elif char == '"':
                self.in_string = False


def _neutral(parts: tuple[str | Slot, ...]) -> str:
    """The template with each placeholder as a neutral value of its own length (blanks in
    a string, ``null`` and blanks elsewhere), so a JSON error's column is the template's."""
    pieces = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
        elif part.in_string:
            pieces.append(" " * len(part.source))
        else:
            pieces.append("null".ljust(len(part.source)))
    return "".join(pieces)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _shape_problem(parts: tuple[str | Slot, ...]) -> str | None:
    try:
        json.loads(_neutral(parts), parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return (f"{_NOT_JSON} (each ${{...}} taken as a value): {exc.msg} at line "
                f"{exc.lineno}, column {exc.colno}")
    except (ValueError, RecursionError) as exc:
        return f"{_NOT_JSON}: {exc}"
    return None


def json_template_problem(text: str) -> str | None:
    """What is wrong with a JSON template (``None``: nothing): the lint refuses what the
    engine's compiler refuses."""
    try:
        compile_json_template(text)
    except ExpressionError as exc:
        return str(exc)
    return None


def compile_json_template(text: str) -> Expression:
    """A JSON template as an expression whose value is the rendered body (a string).

    Raises :class:`ExpressionError` when a placeholder does not compile or the template
    is not JSON (:func:`json_template_problem`)."""
    parts = split_json_template(text)
    problem = _shape_problem(parts)
    if problem is not None:
        raise ExpressionError(problem)
    compiled: list[str | tuple[Callable[[Mapping[str, Any]], Any], bool]] = []
    names: set[str] = set()
    for part in parts:
        if isinstance(part, str):
            compiled.append(part)
            continue
        expression = compile_expression(part.source)
        names |= expression.names
        compiled.append((expression.evaluate, part.in_string))
    source = text.strip()
    if all(isinstance(part, str) for part in compiled):
        constant = "".join(part for part in compiled if isinstance(part, str))  # \${ is ${
        return Expression(source, "template", lambda variables: constant, frozenset(),
                          is_constant=True)

    def render(variables: Mapping[str, Any]) -> str:
        pieces: list[str] = []
        total = 0
        for part in compiled:
            if isinstance(part, str):
                piece = part
            else:
                evaluate, in_string = part
                value = evaluate(variables)
                piece = string_content(value) if in_string else json_text(value)
            total += len(piece)
            if total > MAX_STRING_LENGTH:
                raise ExpressionError(f"the body would be more than {MAX_STRING_LENGTH} "
                                      "characters long")
            pieces.append(piece)
        return "".join(pieces)

    return Expression(source, "template", render, frozenset(names))


def string_content(value: Any) -> str:
    """A value inside a JSON string literal: its text as a text template shows it, escaped
    (quotes, backslashes, line breaks and other control characters)."""
    return json.dumps(to_text(value), ensure_ascii=False)[1:-1]


def json_text(value: Any, _depth: int = 0) -> str:
    """A value as JSON: numbers exact and without exponent (as text templates show them),
    text as a JSON string, lists and maps as JSON arrays and objects; dates, times,
    durations and ranges as strings of their text."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float, Decimal)):
        return to_text(value)  # refuses NaN and infinities
    if _depth >= _MAX_DEPTH:
        raise ExpressionError("the value is nested too deeply to be written as JSON")
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_text(item, _depth + 1) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(
            json.dumps(str(key), ensure_ascii=False) + ":" + json_text(item, _depth + 1)
            for key, item in value.items()) + "}"
    # dates, times, durations, ranges: JSON has no type for them (to_text refuses what it
    # cannot show at all)
    return json.dumps(to_text(value), ensure_ascii=False)
