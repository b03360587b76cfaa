"""One safe expression language for gateway conditions, task assignment and form rules.

Two syntaxes, one meaning:

* JUEL as written in Camunda 7 / Activiti / Flowable models: ``${amount > 5000}``,
  ``#{approved && amount le 100}``, ``${empty comment}``, ``${x in ['a', 'b']}``;
* FEEL as written in Camunda 8 models, marked by a leading ``=``:
  ``=amount > 5000``, ``=if vip then "gold" else "basic"``, ``=x in [1..5]``,
  ``=string length(name) > 3``.

Expressions are tokenized and parsed by hand and compiled into closures; there is no
``eval``/``exec`` and no way to reach attributes or methods of Python objects. Numbers
are ``decimal.Decimal``. Source length, nesting depth, list literal size, string
results, exponents and the decimal context are all bounded, so hostile input fails
fast with :class:`ExpressionError`.
"""

from bpm_process.expressions.api import (
    MAX_SOURCE_LENGTH,
    Expression,
    ListExpression,
    compile_expression,
    compile_list,
    compile_value,
    evaluate_condition,
    is_expression,
    split_items,
)
from bpm_process.expressions.errors import ExpressionError
from bpm_process.expressions.parser import MAX_DEPTH, MAX_LIST_ITEMS
from bpm_process.expressions.values import (
    MAX_EXPONENT,
    MAX_STRING_LENGTH,
    Range,
    as_bool,
    to_text,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LIST_ITEMS",
    "MAX_SOURCE_LENGTH",
    "MAX_STRING_LENGTH",
    "Expression",
    "ExpressionError",
    "ListExpression",
    "Range",
    "as_bool",
    "compile_expression",
    "compile_list",
    "compile_value",
    "evaluate_condition",
    "is_expression",
    "split_items",
    "to_text",
]
