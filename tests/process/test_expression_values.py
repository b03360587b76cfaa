"""Expression values that a variable could not hold or that a common model reads wrongly.

Each of these reached a user: Infinity stored as a variable, a server error when the
instance was saved, a gateway taking the other flow, a variable the API accepted but no
expression could name.
"""

from __future__ import annotations

import pytest

from bpm_process.expressions import ExpressionError, compile_expression


def _value(source: str, variables: dict | None = None):
    return compile_expression(source).evaluate(variables or {})


@pytest.mark.parametrize("base, exponent", [(0, -1), (0, "-0.5"), ("-0", -2)])
def test_zero_to_a_negative_power_is_refused_not_infinity(base, exponent):
    with pytest.raises(ExpressionError, match="zero cannot be raised to a negative power"):
        _value("=base ** exponent", {"base": base, "exponent": exponent})


def test_unicode_escapes_that_no_text_can_hold_are_refused_when_compiled():
    with pytest.raises(ExpressionError, match="NUL"):
        compile_expression("${'a\\u0000b'}")
    for lone in ("${'\\ud800'}", "${'\\ude00\\ud83d'}", "${'x\\udbff'}"):
        with pytest.raises(ExpressionError, match="half of a surrogate pair"):
            compile_expression(lone)
    # a pair written as two escapes (as Java source writes it) is one character
    assert _value("${'\\ud83d\\ude00'}") == "\U0001f600"
    assert _value("${'\\u00e9'}") == "é"


@pytest.mark.parametrize(
    "source, approved, expected",
    [
        ("${approved == true}", "true", True),
        ("${approved == false}", "false", True),
        ("${approved != true}", "true", False),
        ("${approved == true}", "yes", False),
    ],
)
def test_a_boolean_equals_the_texts_true_and_false_as_a_condition_reads_them(source, approved, expected):
    """``${approved}`` routes the text "true" as true; ``${approved == true}`` reads it the
    same way (JUEL coerces the text to a boolean). Other text equals no boolean."""
    assert _value(source, {"approved": approved}) is expected


@pytest.mark.parametrize("name", ["राशि", "cafe\u0301", "x\u00b7y", "\u2118"])
def test_a_variable_name_the_api_accepts_can_be_read_by_an_expression(name):
    assert name.isidentifier()  # the runtime API's rule for variable names
    assert _value("${" + name + " > 1}", {name: 5}) is True
    assert _value("=" + name + " > 1", {name: 5}) is True


@pytest.mark.parametrize("source", ["=[1..3]", "=(x..5]", "=[[1..2]]", "=if x > 1 then [1..2] else 1",
                                    "=x in [[1..2]]", "=[1..2] in ([1..2])"])
def test_a_range_anywhere_but_after_in_is_refused_when_compiled(source):
    with pytest.raises(ExpressionError, match="can only be tested with 'in'"):
        compile_expression(source)


@pytest.mark.parametrize("source, expected", [("=x in [1..5]", True), ("=x in (2..5]", False),
                                              ("=x in ((0..1], [2..3])", True), ("=x in (<1, [2..3])", True)])
def test_ranges_after_in_still_work(source, expected):
    assert _value(source, {"x": 2}) is expected
