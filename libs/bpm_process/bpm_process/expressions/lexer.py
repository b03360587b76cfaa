"""Tokenizer for both syntaxes.

JUEL text is tokenized from just after ``${``/``#{`` up to the matching ``}`` (or to
the end for a bare condition such as ``amount > 5000``); FEEL text is everything after
the leading ``=``.
"""

from __future__ import annotations

from typing import NamedTuple

from bpm_process.expressions.errors import ExpressionError
from bpm_process.expressions.values import CONTEXT

__all__ = ["JUEL", "FEEL", "Token", "tokenize"]

JUEL = "juel"
FEEL = "feel"

NUMBER = "number"
STRING = "string"
NAME = "name"
KEYWORD = "keyword"
OPERATOR = "operator"
END = "end"

JUEL_KEYWORDS = frozenset(
    {
        "and", "or", "not", "eq", "ne", "lt", "gt", "le", "ge", "div", "mod",
        "empty", "true", "false", "null", "instanceof", "in",
    }
)
FEEL_KEYWORDS = frozenset(
    {
        "and", "or", "true", "false", "null", "if", "then", "else", "in", "between",
        "for", "some", "every", "satisfies", "return", "instance", "of", "function",
    }
)

_JUEL_OPERATORS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/",
                   "%", "?", ":", "(", ")", "[", "]", ".", ",")
_FEEL_OPERATORS = ("**", "..", "!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "/",
                   "(", ")", "[", "]", ".", ",")
_VALUE_ENDINGS = frozenset({NUMBER, STRING, NAME})
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "b": "\b",
            "f": "\f", "/": "/"}


class Token(NamedTuple):
    kind: str
    value: object
    position: int


def tokenize(
    source: str, start: int, dialect: str, *, delimited: bool
) -> tuple[list[Token], int]:
    """Tokenize ``source`` from ``start``.

    With ``delimited`` (JUEL inside ``${...}``) tokenizing stops at the closing ``}``
    and the position just after it is returned; otherwise it runs to the end.
    """
    keywords = JUEL_KEYWORDS if dialect == JUEL else FEEL_KEYWORDS
    operators = _JUEL_OPERATORS if dialect == JUEL else _FEEL_OPERATORS
    tokens: list[Token] = []
    pos = start
    length = len(source)
    while True:
        while pos < length and source[pos].isspace():
            pos += 1
        if pos >= length:
            if delimited:
                raise ExpressionError(
                    "the expression is not closed with '}'", position=pos, source=source
                )
            tokens.append(Token(END, None, pos))
            return tokens, pos
        char = source[pos]
        if delimited and char == "}":
            tokens.append(Token(END, None, pos))
            return tokens, pos + 1
        previous_is_value = bool(tokens) and (
            tokens[-1].kind in _VALUE_ENDINGS
            or (tokens[-1].kind == OPERATOR and tokens[-1].value in (")", "]"))
            or (tokens[-1].kind == KEYWORD and tokens[-1].value in ("true", "false", "null"))
        )
        if char.isdigit() or (
            char == "." and pos + 1 < length and source[pos + 1].isdigit()
            and not previous_is_value
            and not (dialect == FEEL and source.startswith("..", pos))
        ):
            pos = _number(source, pos, tokens, dialect)
            continue
        if char == "'" or char == '"':
            pos = _string(source, pos, tokens)
            continue
        if char.isalpha() or char == "_" or (char == "$" and dialect == JUEL) or (
            char.isidentifier()
        ):
            end = pos + 1
            while end < length and (
                source[end].isalnum() or source[end] == "_" or (
                    source[end] == "$" and dialect == JUEL) or _continues_name(source[end])
            ):
                end += 1
            word = source[pos:end]
            kind = KEYWORD if word in keywords else NAME
            tokens.append(Token(kind, word, pos))
            pos = end
            continue
        for operator in operators:
            if source.startswith(operator, pos):
                tokens.append(Token(OPERATOR, operator, pos))
                pos += len(operator)
                break
        else:
            raise ExpressionError(_unexpected_character(char, dialect), position=pos,
                                  source=source)


def _continues_name(char: str) -> bool:
    """Whether ``char`` may go on a name as it may go on a variable name the API accepts
    (``str.isidentifier``): besides letters and digits, the combining marks of Devanagari,
    Thai or decomposed accents (``राशि``, ``café``) and connectors such as ``·``; without
    them such a variable could be set but never read."""
    return ("_" + char).isidentifier()


def _unexpected_character(char: str, dialect: str) -> str:
    if dialect == JUEL and char == "=":
        return "assignment is not allowed; compare with '=='"
    if dialect == JUEL and char in "&|":
        return f"unexpected {char!r}; use '{char * 2}'"
    if char == "{" or char == "}":
        return f"unexpected {char!r}; map literals are not supported"
    return f"unexpected character {char!r}"


def _number(source: str, pos: int, tokens: list[Token], dialect: str) -> int:
    length = len(source)
    end = pos
    while end < length and source[end].isdigit():
        end += 1
    if (
        end < length
        and source[end] == "."
        and end + 1 < length
        and source[end + 1].isdigit()
    ):
        end += 1
        while end < length and source[end].isdigit():
            end += 1
    elif (
        end < length
        and source[end] == "."
        and dialect == JUEL
        and not (end + 1 < length and (source[end + 1].isalpha() or source[end + 1] == "_"))
    ):
        end += 1  # "1." is a JUEL floating point literal
    if end < length and source[end] in "eE":
        exponent_end = end + 1
        if exponent_end < length and source[exponent_end] in "+-":
            exponent_end += 1
        digits_start = exponent_end
        while exponent_end < length and source[exponent_end].isdigit():
            exponent_end += 1
        if exponent_end > digits_start:
            end = exponent_end
    text = source[pos:end]
    if end < length and (source[end].isalpha() or source[end] == "_"):
        raise ExpressionError(f"invalid number {source[pos:end + 1]!r}", position=pos,
                              source=source)
    try:
        value = CONTEXT.create_decimal(text.rstrip("."))
    except ArithmeticError:
        raise ExpressionError(f"the number {text!r} is too large", position=pos,
                              source=source) from None
    tokens.append(Token(NUMBER, value, pos))
    return end


def _string(source: str, pos: int, tokens: list[Token]) -> int:
    quote = source[pos]
    length = len(source)
    parts: list[str] = []
    index = pos + 1
    chunk_start = index
    while index < length:
        char = source[index]
        if char == quote:
            parts.append(source[chunk_start:index])
            tokens.append(Token(STRING, "".join(parts), pos))
            return index + 1
        if char == "\\" and index + 1 < length:
            parts.append(source[chunk_start:index])
            escaped = source[index + 1]
            if escaped == "u" and index + 6 <= length:
                character, index = _unicode_escape(source, index)
                parts.append(character)
            elif escaped in _ESCAPES:
                parts.append(_ESCAPES[escaped])
                index += 2
            else:
                parts.append("\\" + escaped)
                index += 2
            chunk_start = index
            continue
        index += 1
    raise ExpressionError("the string is not closed", position=pos, source=source)


def _unicode_escape(source: str, index: int) -> tuple[str, int]:
    """The character of the ``\\uXXXX`` escape at ``index`` (a UTF-16 surrogate pair
    written as two escapes is one character) and the position after it.

    NUL and a lone surrogate are refused: neither can be stored (PostgreSQL has no
    U+0000 and a lone surrogate is not Unicode), so a value holding one would fail only
    when the instance is saved, as a server error, instead of here, when the model is
    compiled."""
    code = _hex(source, index)
    end = index + 6
    if 0xD800 <= code <= 0xDBFF and source.startswith("\\u", end) and end + 6 <= len(source):
        low = _hex(source, end)
        if 0xDC00 <= low <= 0xDFFF:
            return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), end + 6
    if code == 0:
        raise ExpressionError("the escape \\u0000 (NUL) is not allowed: text cannot hold it",
                              position=index, source=source)
    if 0xD800 <= code <= 0xDFFF:
        raise ExpressionError(
            f"the escape \\u{code:04x} is half of a surrogate pair: write the whole pair "
            "or the character itself", position=index, source=source)
    return chr(code), end


def _hex(source: str, index: int) -> int:
    digits = source[index + 2 : index + 6]
    if len(digits) != 4 or not all(d in "0123456789abcdefABCDEF" for d in digits):
        raise ExpressionError("invalid \\u escape", position=index, source=source)
    return int(digits, 16)
