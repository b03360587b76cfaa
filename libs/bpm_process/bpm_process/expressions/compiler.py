"""Turn a syntax tree into nested Python closures.

Each node becomes a function ``(variables) -> value``. Compiling once and calling
closures is several times faster than walking the tree on each evaluation, and there
is no ``eval``/``exec`` anywhere: the only operations a closure can perform are the
ones written out below. Variables are read with ``Mapping.get`` and containers are
entered only when they are lists or mappings, so no expression can reach attributes
or methods of Python objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from bpm_process.expressions.errors import ExpressionError
from bpm_process.expressions.functions import FUNCTIONS
from bpm_process.expressions.parser import (
    Between,
    Binary,
    Call,
    Conditional,
    Index,
    InTest,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Node,
    Property,
    RangeLiteral,
    Unary,
    UnaryTest,
)
from bpm_process.expressions.values import (
    Range,
    add,
    as_bool,
    contains,
    divide,
    equals,
    greater,
    greater_equal,
    integral,
    internal,
    is_empty,
    less,
    less_equal,
    multiply,
    negate,
    power,
    remainder,
    subtract,
    type_name,
)

__all__ = ["Evaluator", "compile_node", "referenced_names"]

Evaluator = Callable[[Mapping[str, Any]], Any]

_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "%": remainder,
    "**": power,
    "==": equals,
    "!=": lambda left, right: not equals(left, right),
    "<": less,
    "<=": less_equal,
    ">": greater,
    ">=": greater_equal,
}


def compile_node(node: Node) -> Evaluator:
    """Compile one syntax tree node (and its children) into a closure."""
    compiler = _COMPILERS.get(type(node))
    if compiler is None:  # pragma: no cover - the parser only builds the types below
        raise ExpressionError(f"cannot compile {type(node).__name__}")
    return compiler(node)


def referenced_names(node: Node) -> frozenset[str]:
    """The variable names an expression reads (the first segment of each path)."""
    found: set[str] = set()
    stack: list[Any] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Name):
            found.add(current.name)
        elif isinstance(current, Node):
            for slot in type(current).__slots__:
                value = getattr(current, slot)
                if isinstance(value, Node):
                    stack.append(value)
                elif isinstance(value, tuple):
                    stack.extend(item for item in value if isinstance(item, Node))
    return frozenset(found)


def _literal(node: Literal) -> Evaluator:
    value = node.value

    def literal(variables: Mapping[str, Any]) -> Any:
        return value

    return literal


def _name(node: Name) -> Evaluator:
    name = node.name

    def read(variables: Mapping[str, Any]) -> Any:
        value = variables.get(name)
        kind = type(value)
        if kind is str or kind is bool or value is None:
            return value
        return internal(value)

    return read


def _property(node: Property) -> Evaluator:
    target = compile_node(node.target)
    name = node.name

    def read_property(variables: Mapping[str, Any]) -> Any:
        container = target(variables)
        if container is None:
            return None
        if isinstance(container, Mapping):
            return internal(container.get(name))
        raise ExpressionError(f"cannot read the property {name!r} of a {type_name(container)}")

    return read_property


def _index(node: Index) -> Evaluator:
    target = compile_node(node.target)
    index = compile_node(node.index)
    one_based = node.one_based

    def read_index(variables: Mapping[str, Any]) -> Any:
        container = target(variables)
        key = index(variables)
        if container is None or key is None:
            return None
        if isinstance(container, Mapping):
            if not isinstance(key, str):
                key = _map_key(key)
            return internal(container.get(key))
        if isinstance(container, (list, tuple)):
            if type(key) is bool:
                raise ExpressionError("list filters are not supported; use an index")
            position = integral(key, "list index")
            if one_based:
                if position == 0:
                    return None
                position = position - 1 if position > 0 else len(container) + position
            elif position < 0:
                return None
            if 0 <= position < len(container):
                return internal(container[position])
            return None
        raise ExpressionError(f"cannot index into a {type_name(container)}")

    return read_index


def _map_key(key: Any) -> str:
    if type(key) is Decimal:
        return format(key, "f")
    raise ExpressionError(f"a map key must be a string, not a {type_name(key)}")


def _unary(node: Unary) -> Evaluator:
    operand = compile_node(node.operand)
    if node.operator == "-":
        return lambda variables: negate(operand(variables))
    if node.operator == "not":
        return lambda variables: not as_bool(operand(variables), "operand of 'not'")
    return lambda variables: is_empty(operand(variables))


def _binary(node: Binary) -> Evaluator:
    left = compile_node(node.left)
    right = compile_node(node.right)
    operation = _BINARY[node.operator]
    if isinstance(node.right, Literal) and node.operator in ("<", "<=", ">", ">=", "==", "!="):
        constant = node.right.value

        def compare_constant(variables: Mapping[str, Any]) -> Any:
            return operation(left(variables), constant)

        return compare_constant

    def binary(variables: Mapping[str, Any]) -> Any:
        return operation(left(variables), right(variables))

    return binary


def _logical(node: Logical) -> Evaluator:
    operands = tuple(compile_node(operand) for operand in node.operands)
    what = f"operand of '{node.operator}'"
    if node.operator == "and":

        def conjunction(variables: Mapping[str, Any]) -> bool:
            for operand in operands:
                if not as_bool(operand(variables), what):
                    return False
            return True

        return conjunction

    def disjunction(variables: Mapping[str, Any]) -> bool:
        for operand in operands:
            if as_bool(operand(variables), what):
                return True
        return False

    return disjunction


def _conditional(node: Conditional) -> Evaluator:
    condition = compile_node(node.condition)
    then = compile_node(node.then)
    otherwise = compile_node(node.otherwise)

    def conditional(variables: Mapping[str, Any]) -> Any:
        if as_bool(condition(variables), "condition of 'if'/'?'"):
            return then(variables)
        return otherwise(variables)

    return conditional


def _list(node: ListLiteral) -> Evaluator:
    items = tuple(compile_node(item) for item in node.items)
    return lambda variables: [item(variables) for item in items]


def _range(node: RangeLiteral) -> Evaluator:
    low = compile_node(node.low)
    high = compile_node(node.high)
    low_closed = node.low_closed
    high_closed = node.high_closed
    return lambda variables: Range(low(variables), high(variables), low_closed, high_closed)


def _unary_test(node: UnaryTest) -> Evaluator:
    # Only reached when a unary test is evaluated on its own, which the parser never
    # produces outside an ``in``; compiled for completeness as a range.
    operand = compile_node(node.operand)
    operator = node.operator

    def as_range(variables: Mapping[str, Any]) -> Range:
        value = operand(variables)
        if operator in ("<", "<="):
            return Range(None, value, True, operator == "<=")
        return Range(value, None, operator == ">=", True)

    return as_range


def _in(node: InTest) -> Evaluator:
    value = compile_node(node.value)
    tests: list[Callable[[Any, Mapping[str, Any]], bool]] = []
    for test in node.tests:
        if isinstance(test, UnaryTest):
            operand = compile_node(test.operand)
            comparison = _BINARY[test.operator]
            tests.append(
                lambda item, variables, operand=operand, comparison=comparison: bool(
                    comparison(item, operand(variables))
                )
            )
        else:
            evaluator = compile_node(test)
            tests.append(
                lambda item, variables, evaluator=evaluator: contains(evaluator(variables), item)
            )
    compiled_tests = tuple(tests)

    def membership(variables: Mapping[str, Any]) -> bool:
        item = value(variables)
        return any(test(item, variables) for test in compiled_tests)

    return membership


def _between(node: Between) -> Evaluator:
    value = compile_node(node.value)
    low = compile_node(node.low)
    high = compile_node(node.high)

    def between(variables: Mapping[str, Any]) -> bool:
        item = value(variables)
        return less_equal(low(variables), item) and less_equal(item, high(variables))

    return between


def _call(node: Call) -> Evaluator:
    if node.function == "is defined":
        return _is_defined(node.arguments[0])
    implementation = FUNCTIONS[node.function].implementation
    arguments = tuple(compile_node(argument) for argument in node.arguments)

    def call(variables: Mapping[str, Any]) -> Any:
        return implementation([argument(variables) for argument in arguments])

    return call


def _is_defined(argument: Node) -> Evaluator:
    if isinstance(argument, Name):
        name = argument.name
        return lambda variables: name in variables
    if isinstance(argument, Property):
        container = compile_node(argument.target)
        key = argument.name

        def has_property(variables: Mapping[str, Any]) -> bool:
            value = container(variables)
            return isinstance(value, Mapping) and key in value

        return has_property
    evaluator = compile_node(argument)
    return lambda variables: evaluator(variables) is not None


_COMPILERS: dict[type, Callable[[Any], Evaluator]] = {
    Literal: _literal,
    Name: _name,
    Property: _property,
    Index: _index,
    Unary: _unary,
    Binary: _binary,
    Logical: _logical,
    Conditional: _conditional,
    ListLiteral: _list,
    RangeLiteral: _range,
    UnaryTest: _unary_test,
    InTest: _in,
    Between: _between,
    Call: _call,
}
