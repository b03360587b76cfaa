"""Pratt parser for the JUEL and FEEL syntaxes, producing a small syntax tree.

Both syntaxes produce the same node types, so one compiler and one set of value rules
serve both. The parser refuses, with the position of the offending token:

* names and properties starting with ``__`` (no reaching into Python internals);
* method calls (``a.b()``) and, in JUEL, function calls of any kind;
* FEEL functions outside the built-in whitelist;
* nesting deeper than :data:`MAX_DEPTH` and list literals longer than
  :data:`MAX_LIST_ITEMS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bpm_process.expressions.errors import ExpressionError
from bpm_process.expressions.functions import FUNCTIONS, MULTI_WORD_FUNCTIONS
from bpm_process.expressions.lexer import (
    END,
    FEEL,
    JUEL,
    KEYWORD,
    NAME,
    NUMBER,
    OPERATOR,
    STRING,
    Token,
)

__all__ = ["MAX_DEPTH", "MAX_LIST_ITEMS", "parse_tokens"]

MAX_DEPTH = 64
MAX_LIST_ITEMS = 1000


class Node:
    """Base of the syntax tree nodes; every node knows where it starts and how deep it is."""

    __slots__ = ()
    position: int
    depth: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    position: int
    depth: int
    value: Any


@dataclass(frozen=True, slots=True)
class Name(Node):
    position: int
    depth: int
    name: str


@dataclass(frozen=True, slots=True)
class Property(Node):
    position: int
    depth: int
    target: Node
    name: str


@dataclass(frozen=True, slots=True)
class Index(Node):
    position: int
    depth: int
    target: Node
    index: Node
    one_based: bool


@dataclass(frozen=True, slots=True)
class Unary(Node):
    position: int
    depth: int
    operator: str  # "-", "not", "empty"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    position: int
    depth: int
    operator: str  # + - * / % ** == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical(Node):
    position: int
    depth: int
    operator: str  # "and", "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Conditional(Node):
    position: int
    depth: int
    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class ListLiteral(Node):
    position: int
    depth: int
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class RangeLiteral(Node):
    position: int
    depth: int
    low: Node
    high: Node
    low_closed: bool
    high_closed: bool


@dataclass(frozen=True, slots=True)
class UnaryTest(Node):
    position: int
    depth: int
    operator: str  # "<", "<=", ">", ">="
    operand: Node


@dataclass(frozen=True, slots=True)
class InTest(Node):
    position: int
    depth: int
    value: Node
    tests: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Between(Node):
    position: int
    depth: int
    value: Node
    low: Node
    high: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    position: int
    depth: int
    function: str
    arguments: tuple[Node, ...]


_JUEL_WORD_OPERATORS = {
    "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
    "div": "/", "mod": "%", "and": "and", "or": "or", "in": "in",
}
_JUEL_SYMBOL_OPERATORS = {"&&": "and", "||": "or"}

_JUEL_POWERS = {
    "?": 10, "or": 20, "and": 30, "==": 40, "!=": 40,
    "<": 50, ">": 50, "<=": 50, ">=": 50, "in": 50,
    "+": 60, "-": 60, "*": 70, "/": 70, "%": 70,
    ".": 90, "[": 90, "(": 90,
}
_FEEL_POWERS = {
    "or": 20, "and": 30, "==": 40, "!=": 40, "<": 40, "<=": 40, ">": 40, ">=": 40,
    "in": 40, "between": 40, "+": 60, "-": 60, "*": 70, "/": 70, "**": 80,
    ".": 90, "[": 90, "(": 90,
}
_UNARY_POWER = {JUEL: 80, FEEL: 75}
_UNSUPPORTED_FEEL = {
    "for": "'for' expressions are not supported",
    "some": "'some' expressions are not supported",
    "every": "'every' expressions are not supported",
    "function": "function definitions are not supported",
    "instance": "'instance of' is not supported",
}


def parse_tokens(source: str, tokens: list[Token], dialect: str) -> Node:
    """Parse a whole token list (ending with an ``end`` token) into one node."""
    return _Parser(source, tokens, dialect).parse()


def _depth(*children: Node) -> int:
    return 1 + max((child.depth for child in children), default=0)


class _Parser:
    def __init__(self, source: str, tokens: list[Token], dialect: str) -> None:
        self.source = source
        self.tokens = tokens
        self.dialect = dialect
        self.index = 0
        self.nesting = 0
        self.powers = _JUEL_POWERS if dialect == JUEL else _FEEL_POWERS

    # -- token helpers ---------------------------------------------------------------

    def peek(self, offset: int = 0) -> Token:
        index = min(self.index + offset, len(self.tokens) - 1)
        return self.tokens[index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != END:
            self.index += 1
        return token

    def at(self, kind: str, value: object = None, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind == kind and (value is None or token.value == value)

    def expect(self, kind: str, value: object, what: str) -> Token:
        if not self.at(kind, value):
            raise self.error(f"expected {what}", self.peek())
        return self.advance()

    def error(self, message: str, token: Token | None = None) -> ExpressionError:
        token = token or self.peek()
        if token.kind == END and not message.startswith("unexpected end"):
            message = f"{message}, but the expression ended"
        elif token.kind != END and message.startswith("expected"):
            message = f"{message}, found {_describe(token)}"
        return ExpressionError(message, position=token.position, source=self.source)

    def checked(self, node: Node) -> Node:
        if node.depth > MAX_DEPTH:
            raise ExpressionError(
                f"the expression is nested more than {MAX_DEPTH} levels deep",
                position=node.position,
                source=self.source,
            )
        return node

    # -- grammar ---------------------------------------------------------------------

    def parse(self) -> Node:
        if self.at(END):
            raise self.error("the expression is empty")
        node = self.expression(0)
        if not self.at(END):
            token = self.peek()
            if token.kind == OPERATOR and token.value == ":":
                raise self.error("unexpected ':' (only the ternary 'a ? b : c' uses it)", token)
            raise self.error(f"unexpected {_describe(token)}", token)
        if self.dialect == FEEL:
            self.refuse_loose_ranges(node)
        return node

    def refuse_loose_ranges(self, root: Node) -> None:
        """A range is a test, not a value: the evaluator uses one only right after
        ``in`` (``x in [1..5]``, ``x in ((0..1), >9)``). Anywhere else it would become
        the value of a mapping or a list, which no variable can hold (the instance could
        not be saved), so it is refused here with its position."""
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, is_test = stack.pop()
            if isinstance(node, RangeLiteral) and not is_test:
                raise ExpressionError(
                    "a range such as [1..5] can only be tested with 'in' (x in [1..5])",
                    position=node.position, source=self.source)
            tests = node.tests if isinstance(node, InTest) else ()
            for slot in type(node).__slots__:
                value = getattr(node, slot)
                children = value if isinstance(value, tuple) else (value,)
                for child in children:
                    if isinstance(child, Node):
                        stack.append((child, any(child is test for test in tests)))

    def expression(self, min_power: int) -> Node:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise ExpressionError(
                f"the expression is nested more than {MAX_DEPTH} levels deep",
                position=self.peek().position,
                source=self.source,
            )
        try:
            left = self.prefix()
            while True:
                token = self.peek()
                operator = self.infix_operator(token)
                if operator is None:
                    break
                power = self.powers[operator]
                if power <= min_power:
                    break
                self.advance()
                left = self.checked(self.infix(left, operator, power, token))
            return left
        finally:
            self.nesting -= 1

    def infix_operator(self, token: Token) -> str | None:
        if token.kind == OPERATOR:
            value = str(token.value)
            if self.dialect == JUEL:
                value = _JUEL_SYMBOL_OPERATORS.get(value, value)
            elif value == "=":
                value = "=="
            return value if value in self.powers else None
        if token.kind == KEYWORD:
            value = str(token.value)
            if self.dialect == JUEL:
                if value == "instanceof":
                    raise self.error("'instanceof' is not supported", token)
                mapped = _JUEL_WORD_OPERATORS.get(value)
                return mapped if mapped in self.powers else None
            if value == "instance":
                raise self.error(_UNSUPPORTED_FEEL["instance"], token)
            return value if value in self.powers else None
        return None

    def infix(self, left: Node, operator: str, power: int, token: Token) -> Node:
        position = token.position
        if operator == ".":
            name_token = self.advance()
            if name_token.kind not in (NAME, KEYWORD):
                raise self.error("expected a property name after '.'", name_token)
            name = str(name_token.value)
            self.refuse_private(name, name_token)
            if self.at(OPERATOR, "("):
                raise self.error("method calls are not allowed", self.peek())
            return Property(position, _depth(left), left, name)
        if operator == "[":
            index = self.expression(0)
            self.expect(OPERATOR, "]", "']'")
            if isinstance(index, Literal) and isinstance(index.value, str):
                self.refuse_private(index.value, token)
            if self.at(OPERATOR, "("):
                raise self.error("method calls are not allowed", self.peek())
            return Index(position, _depth(left, index), left, index, self.dialect == FEEL)
        if operator == "(":
            raise self.error(
                "method calls are not allowed" if isinstance(left, (Property, Index))
                else "only built-in functions can be called",
                token,
            )
        if operator == "?":
            then = self.expression(0)
            self.expect(OPERATOR, ":", "':' of the ternary 'a ? b : c'")
            otherwise = self.expression(power - 1)
            return Conditional(position, _depth(left, then, otherwise), left, then, otherwise)
        if operator in ("and", "or"):
            right = self.expression(power)
            if isinstance(left, Logical) and left.operator == operator:
                operands = (*left.operands, right)
                return Logical(left.position, _depth(*operands), operator, operands)
            return Logical(position, _depth(left, right), operator, (left, right))
        if operator == "in":
            tests = self.in_tests()
            return InTest(position, _depth(left, *tests), left, tests)
        if operator == "between":
            low = self.expression(self.powers["and"])
            self.expect(KEYWORD, "and", "'and' of 'between ... and ...'")
            high = self.expression(power)
            return Between(position, _depth(left, low, high), left, low, high)
        right_power = power - 1 if operator == "**" else power
        right = self.expression(right_power)
        return Binary(position, _depth(left, right), operator, left, right)

    def in_tests(self) -> tuple[Node, ...]:
        if self.dialect == JUEL:
            return (self.expression(self.powers["in"]),)
        if not self.at(OPERATOR, "("):
            return (self.unary_test(),)
        open_token = self.advance()
        first = self.unary_test()
        if self.at(OPERATOR, ".."):
            return (self.range_rest(first, low_closed=False, position=open_token.position),)
        tests = [first]
        while self.at(OPERATOR, ","):
            self.advance()
            tests.append(self.unary_test())
            if len(tests) > MAX_LIST_ITEMS:
                raise self.error(f"more than {MAX_LIST_ITEMS} tests")
        self.expect(OPERATOR, ")", "')'")
        return tuple(tests)

    def unary_test(self) -> Node:
        token = self.peek()
        if token.kind == OPERATOR and token.value in ("<", "<=", ">", ">="):
            self.advance()
            operand = self.expression(self.powers["<"])
            return self.checked(UnaryTest(token.position, _depth(operand), str(token.value),
                                          operand))
        return self.expression(self.powers["in"])

    def range_rest(self, low: Node, *, low_closed: bool, position: int) -> Node:
        self.expect(OPERATOR, "..", "'..'")
        high = self.expression(0)
        closing = self.peek()
        if closing.kind == OPERATOR and closing.value == "]":
            high_closed = True
        elif closing.kind == OPERATOR and closing.value in (")", "["):
            high_closed = False
        else:
            raise self.error("expected ']' or ')' to close the range", closing)
        self.advance()
        return self.checked(RangeLiteral(position, _depth(low, high), low, high,
                                         low_closed, high_closed))

    def prefix(self) -> Node:
        token = self.advance()
        kind = token.kind
        position = token.position
        if kind == NUMBER or kind == STRING:
            return Literal(position, 1, token.value)
        if kind == NAME:
            return self.name(token)
        if kind == KEYWORD:
            return self.keyword(token)
        if kind == OPERATOR:
            value = token.value
            if value == "(":
                inner = self.expression(0)
                if self.dialect == FEEL and self.at(OPERATOR, ".."):
                    return self.range_rest(inner, low_closed=False, position=position)
                self.expect(OPERATOR, ")", "')'")
                return inner
            if value == "[":
                return self.list_or_range(token)
            if value == "-":
                operand = self.expression(_UNARY_POWER[self.dialect])
                if isinstance(operand, Literal) and isinstance(operand.value, Decimal):
                    return Literal(position, 1, -operand.value)
                return self.checked(Unary(position, _depth(operand), "-", operand))
            if value == "!" and self.dialect == JUEL:
                operand = self.expression(_UNARY_POWER[JUEL])
                return self.checked(Unary(position, _depth(operand), "not", operand))
            if value == "+":
                raise self.error("unexpected '+'", token)
        if kind == END:
            raise self.error("unexpected end of the expression", token)
        raise self.error(f"unexpected {_describe(token)}", token)

    def keyword(self, token: Token) -> Node:
        value = str(token.value)
        position = token.position
        if value == "true":
            return Literal(position, 1, True)
        if value == "false":
            return Literal(position, 1, False)
        if value == "null":
            return Literal(position, 1, None)
        if self.dialect == JUEL:
            if value in ("not", "empty"):
                operand = self.expression(_UNARY_POWER[JUEL])
                return self.checked(Unary(position, _depth(operand), value, operand))
        else:
            if value == "if":
                condition = self.expression(0)
                self.expect(KEYWORD, "then", "'then'")
                then = self.expression(0)
                self.expect(KEYWORD, "else", "'else'")
                otherwise = self.expression(0)
                return self.checked(
                    Conditional(position, _depth(condition, then, otherwise), condition,
                                then, otherwise)
                )
            if value in _UNSUPPORTED_FEEL:
                raise self.error(_UNSUPPORTED_FEEL[value], token)
        raise self.error(f"unexpected {_describe(token)}", token)

    def name(self, token: Token) -> Node:
        name = str(token.value)
        position = token.position
        if self.dialect == JUEL:
            if self.at(OPERATOR, "("):
                raise self.error("function calls are not supported in ${...} expressions",
                                 token)
            if self.at(OPERATOR, ":") and self.at(NAME, offset=1) and self.at(
                OPERATOR, "(", offset=2
            ):
                raise self.error("function calls are not supported in ${...} expressions",
                                 token)
            self.refuse_private(name, token)
            return Name(position, 1, name)

        function = self.function_name(name)
        if function is not None:
            return self.call(function, token)
        if self.at(OPERATOR, "("):
            raise self.error(f"unknown function {name!r}", token)
        self.refuse_private(name, token)
        return Name(position, 1, name)

    def function_name(self, first: str) -> str | None:
        """Match a (possibly several-word) built-in function name followed by '('; on
        success the name's tokens are consumed and the '(' is next."""
        for words in MULTI_WORD_FUNCTIONS:
            if words[0] != first:
                continue
            rest = words[1:]
            if all(
                self.peek(offset).kind in (NAME, KEYWORD) and self.peek(offset).value == word
                for offset, word in enumerate(rest)
            ) and self.at(OPERATOR, "(", offset=len(rest)):
                for _ in rest:
                    self.advance()
                return " ".join(words)
        if first in FUNCTIONS and self.at(OPERATOR, "("):
            return first
        return None

    def call(self, function: str, token: Token) -> Node:
        self.expect(OPERATOR, "(", "'('")
        arguments: list[Node] = []
        if not self.at(OPERATOR, ")"):
            arguments.append(self.expression(0))
            while self.at(OPERATOR, ","):
                self.advance()
                arguments.append(self.expression(0))
                if len(arguments) > MAX_LIST_ITEMS:
                    raise self.error(f"more than {MAX_LIST_ITEMS} arguments")
        self.expect(OPERATOR, ")", "')' or ','")
        spec = FUNCTIONS[function]
        if len(arguments) < spec.min_arguments or (
            spec.max_arguments is not None and len(arguments) > spec.max_arguments
        ):
            raise self.error(f"{function}() expects {spec.arity_text()}", token)
        return self.checked(
            Call(token.position, _depth(*arguments), function, tuple(arguments))
        )

    def list_or_range(self, token: Token) -> Node:
        position = token.position
        if self.at(OPERATOR, "]"):
            self.advance()
            return ListLiteral(position, 1, ())
        first = self.expression(0)
        if self.dialect == FEEL and self.at(OPERATOR, ".."):
            return self.range_rest(first, low_closed=True, position=position)
        items = [first]
        while self.at(OPERATOR, ","):
            self.advance()
            items.append(self.expression(0))
            if len(items) > MAX_LIST_ITEMS:
                raise self.error(f"a list literal may hold at most {MAX_LIST_ITEMS} items")
        self.expect(OPERATOR, "]", "']' or ','")
        return self.checked(ListLiteral(position, _depth(*items), tuple(items)))

    def refuse_private(self, name: str, token: Token) -> None:
        if name.startswith("__"):
            raise self.error(f"names starting with '__' are not allowed ({name!r})", token)


def _describe(token: Token) -> str:
    if token.kind == END:
        return "the end of the expression"
    if token.kind == STRING:
        return "a string"
    if token.kind == NUMBER:
        return f"the number {token.value}"
    return repr(str(token.value))
