"""Forms: JSON Schema (2020-12) with cross-field rules, checked the same way by the
designer (when a form is saved and published) and by the runtime (when an instance
starts and a task completes).

A form is a JSON object::

    {
      "schema": {...},            # JSON Schema 2020-12 of the submitted variables
      "ui_schema": {...},         # layout hints for front ends; never used to validate
      "rules": [                  # cross-field rules in the safe expression language
        {"expression": "${budget > 0 && budget < department_budget * 0.1}",
         "message": "the budget must be positive and below 10 % of the annual budget",
         "fields": ["budget"]}
      ]
    }

* :func:`check_form` says whether a form itself is acceptable: a valid 2020-12
  schema, bounded in size and depth, only local ``$ref`` (``#...``), patterns
  without nested quantifiers, dictionary references that resolve, rules that
  compile.
* :func:`validate_form` validates submitted data and returns one
  ``{"field", "message"}`` entry per failing field (an empty list when the data is
  valid), ready for a problem+json ``errors`` array.
* :func:`resolve_dictionaries` replaces ``"x-dictionary": "<key>"`` by an ``enum`` of
  the dictionary's codes and ``x-enum-labels`` (code → labels by locale); the
  designer does this before publishing so the runtime needs no dictionary.

The validator is configured for untrusted schemas: no remote ``$ref`` resolution
(an empty registry that retrieves nothing), numbers compared exactly (``Decimal``
is a number, integral decimals are integers), ``pattern`` checked on bounded
strings only, and formats checked by a small, explicit checker (``date``,
``date-time``, ``time``, ``email``, ``uuid``, ``attachment-id``).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable

from bpm_process.expressions import ExpressionError, as_bool, compile_expression

__all__ = [
    "ATTACHMENT_FORMAT",
    "DICTIONARY_KEYWORD",
    "LABELS_KEYWORD",
    "MAX_FORM_BYTES",
    "MAX_RULES",
    "FieldError",
    "check_form",
    "dictionary_keys",
    "resolve_dictionaries",
    "validate_form",
]

FieldError = dict[str, str]
"""``{"field": "items[0].amount", "message": "..."}``."""

ATTACHMENT_FORMAT = "attachment-id"
"""``format`` of a field holding the id of an uploaded attachment."""
DICTIONARY_KEYWORD = "x-dictionary"
"""Names a data dictionary whose item codes are the allowed values."""
LABELS_KEYWORD = "x-enum-labels"
"""Added next to the resolved ``enum``: code → {locale: label}."""

MAX_FORM_BYTES = 256 * 1024
MAX_SCHEMA_DEPTH = 32
MAX_RULES = 100
MAX_PATTERN_LENGTH = 500
MAX_PATTERN_SUBJECT = 10_000
"""Strings longer than this fail a ``pattern`` without being matched."""
MAX_DATA_BYTES = 1024 * 1024
MAX_ERRORS = 200

_SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
_REF_KEYWORDS = ("$ref", "$dynamicRef")
# a group that contains a quantifier and is itself quantified: (a+)+, (\w*)*, (x{2,})+;
# or a quantified group with alternatives: (a|ab)*. Both can backtrack exponentially.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,?\d*\})\)(?:[+*]|\{\d*,?\d*\})")
_QUANTIFIED_ALTERNATION = re.compile(r"\((?:[^()\\]|\\.)*\|(?:[^()\\]|\\.)*\)(?:[+*]|\{\d*,\d*\})")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


# --- the validator -----------------------------------------------------------------------


def _is_integer(checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    if isinstance(instance, float):
        return instance.is_integer()
    if isinstance(instance, Decimal):
        return instance.is_finite() and instance == instance.to_integral_value()
    return False


def _is_number(checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, Decimal):
        return instance.is_finite()
    return isinstance(instance, (int, float))


def _exact(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _multiple_of(
    validator: Any, divisor: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "number"):
        return
    try:
        remainder = _exact(instance) % _exact(divisor)
    except (InvalidOperation, ArithmeticError):
        yield ValidationError(f"{instance} is not a multiple of {divisor}")
        return
    if remainder != 0:
        yield ValidationError(f"{instance} is not a multiple of {divisor}")


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    if len(instance) > MAX_PATTERN_SUBJECT:
        yield ValidationError(f"is longer than {MAX_PATTERN_SUBJECT} characters")
    elif re.search(pattern, instance) is None:
        yield ValidationError(f"does not match the pattern {pattern!r}")


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date", raises=ValueError)
    def _date(value: object) -> bool:
        if isinstance(value, str):
            dt.date.fromisoformat(value)
        return True

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return "T" in value.upper() and parsed.tzinfo is not None

    @checker.checks("time", raises=ValueError)
    def _time(value: object) -> bool:
        if isinstance(value, str):
            dt.time.fromisoformat(value)
        return True

    @checker.checks("email")
    def _email(value: object) -> bool:
        return not isinstance(value, str) or _EMAIL.fullmatch(value) is not None

    @checker.checks("uuid", raises=ValueError)
    @checker.checks(ATTACHMENT_FORMAT, raises=ValueError)
    def _uuid(value: object) -> bool:
        if isinstance(value, str):
            uuid.UUID(value)
        return True

    return checker


_TYPES = Draft202012Validator.TYPE_CHECKER.redefine_many(
    {"integer": _is_integer, "number": _is_number}
)
_Validator = validators.extend(
    Draft202012Validator,
    validators={"multipleOf": _multiple_of, "pattern": _pattern},
    type_checker=_TYPES,
)
_FORMATS = _format_checker()
_REGISTRY: Registry = Registry()
"""Empty and without a retrieve function: any reference outside the schema fails."""


# --- checking a form ---------------------------------------------------------------------


def check_form(form: Any, *, dictionaries: Mapping[str, Any] | None = None) -> list[FieldError]:
    """Problems of a form definition (empty when it can be used), fields named by path
    (``schema.properties.amount.pattern``, ``rules[0].expression`` ...).

    With ``dictionaries`` (key → items), ``x-dictionary`` references must name one of
    them; without, they are not checked (the runtime gets resolved schemas).
    """
    if not isinstance(form, Mapping):
        return [_error("", "a form is a JSON object with schema, ui_schema and rules")]
    errors: list[FieldError] = []
    try:
        size = len(json.dumps(form, default=str))
    except (TypeError, ValueError):
        return [_error("", "the form is not JSON")]
    if size > MAX_FORM_BYTES:
        return [_error("", f"the form is larger than {MAX_FORM_BYTES} bytes")]
    unknown = sorted(set(form) - {"schema", "ui_schema", "rules"})
    errors.extend(_error(key, "unknown member of a form") for key in unknown)
    schema = form.get("schema")
    if not isinstance(schema, Mapping):
        errors.append(_error("schema", "required: a JSON Schema object"))
    else:
        errors.extend(_schema_problems(schema, dictionaries))
    ui_schema = form.get("ui_schema", {})
    if ui_schema is not None and not isinstance(ui_schema, Mapping):
        errors.append(_error("ui_schema", "must be an object"))
    errors.extend(_rule_problems(form.get("rules", [])))
    return errors


def _schema_problems(
    schema: Mapping[str, Any], dictionaries: Mapping[str, Any] | None
) -> list[FieldError]:
    errors: list[FieldError] = []
    declared = schema.get("$schema")
    if declared is not None and declared.rstrip("#") != _SCHEMA_URI:
        errors.append(_error("schema.$schema", f"only JSON Schema 2020-12 ({_SCHEMA_URI})"))
    if schema.get("type", "object") != "object":
        errors.append(_error("schema.type", "a form's schema describes an object"))
    for path, node, depth in _walk(schema, "schema"):
        if depth > MAX_SCHEMA_DEPTH:
            errors.append(_error(path, f"nested deeper than {MAX_SCHEMA_DEPTH} levels"))
            break
        errors.extend(_node_problems(path, node, dictionaries))
    if errors:
        return errors
    try:
        _Validator.check_schema(schema, format_checker=None)
    except SchemaError as exc:
        where = ".".join(["schema", *(str(p) for p in exc.path)])
        errors.append(_error(where, exc.message))
    return errors


def _node_problems(
    path: str, node: Mapping[str, Any], dictionaries: Mapping[str, Any] | None
) -> Iterator[FieldError]:
    for keyword in _REF_KEYWORDS:
        ref = node.get(keyword)
        if isinstance(ref, str) and not ref.startswith("#"):
            yield _error(f"{path}.{keyword}", "only references inside the form (#...) are allowed")
    identifier = node.get("$id")
    if isinstance(identifier, str) and "://" in identifier:
        yield _error(f"{path}.$id", "absolute $id is not allowed in a form")
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        yield from _pattern_problems(f"{path}.pattern", pattern)
    patterns = node.get("patternProperties")
    if isinstance(patterns, Mapping):
        for key in patterns:
            yield from _pattern_problems(f"{path}.patternProperties", str(key))
    dictionary = node.get(DICTIONARY_KEYWORD)
    if dictionary is not None:
        if not isinstance(dictionary, str):
            yield _error(f"{path}.{DICTIONARY_KEYWORD}", "must be a dictionary key")
        elif dictionaries is not None and dictionary not in dictionaries:
            yield _error(f"{path}.{DICTIONARY_KEYWORD}", f"no dictionary {dictionary!r}")


def _pattern_problems(path: str, pattern: str) -> Iterator[FieldError]:
    if len(pattern) > MAX_PATTERN_LENGTH:
        yield _error(path, f"longer than {MAX_PATTERN_LENGTH} characters")
        return
    try:
        re.compile(pattern)
    except re.error as exc:
        yield _error(path, f"not a regular expression: {exc}")
        return
    if _NESTED_QUANTIFIER.search(pattern) or _QUANTIFIED_ALTERNATION.search(pattern):
        yield _error(path, "nested or alternating quantifiers can take exponential time")


def _rule_problems(rules: Any) -> list[FieldError]:
    if rules is None:
        return []
    if not isinstance(rules, list):
        return [_error("rules", "must be a list")]
    if len(rules) > MAX_RULES:
        return [_error("rules", f"at most {MAX_RULES} rules")]
    errors: list[FieldError] = []
    for index, item in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(item, Mapping):
            errors.append(_error(where, "a rule is an object with expression, message, fields"))
            continue
        expression = item.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            errors.append(_error(f"{where}.expression", "required"))
        else:
            try:
                compile_expression(expression)
            except ExpressionError as exc:
                errors.append(_error(f"{where}.expression", f"does not compile: {exc.message}"))
        message = item.get("message")
        if not isinstance(message, str) or not message.strip():
            errors.append(_error(f"{where}.message", "required"))
        fields = item.get("fields", [])
        if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
            errors.append(_error(f"{where}.fields", "must be a list of field names"))
    return errors


def _walk(node: Any, path: str, depth: int = 1) -> Iterator[tuple[str, Mapping[str, Any], int]]:
    """Every schema object inside ``node`` (sub-schemas and anything else that is a
    JSON object), with its path and depth."""
    if isinstance(node, Mapping):
        yield path, node, depth
        for key, value in node.items():
            if key in ("enum", "const", "examples", "default", LABELS_KEYWORD):
                continue
            yield from _walk(value, f"{path}.{key}", depth + 1)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]", depth + 1)


# --- dictionaries ------------------------------------------------------------------------


def dictionary_keys(schema: Any) -> set[str]:
    """The dictionaries a schema refers to."""
    return {
        node[DICTIONARY_KEYWORD]
        for _, node, _ in _walk(schema, "schema")
        if isinstance(node.get(DICTIONARY_KEYWORD), str)
    }


def resolve_dictionaries(
    schema: Mapping[str, Any], dictionaries: Mapping[str, Sequence[Any]]
) -> dict[str, Any]:
    """A copy of ``schema`` where each ``x-dictionary`` has an ``enum`` of its codes and
    ``x-enum-labels``. Items are codes or ``{"code", "labels"}`` objects; unknown
    dictionaries give an empty enum (nothing is accepted)."""
    resolved = copy.deepcopy(dict(schema))
    for _, node, _ in _walk(resolved, "schema"):
        key = node.get(DICTIONARY_KEYWORD)
        if not isinstance(key, str) or not isinstance(node, dict):
            continue
        items = dictionaries.get(key, ())
        codes: list[Any] = []
        labels: dict[str, Any] = {}
        for item in items:
            if isinstance(item, Mapping):
                codes.append(item.get("code"))
                labels[str(item.get("code"))] = dict(item.get("labels") or {})
            else:
                codes.append(item)
        node["enum"] = codes
        node[LABELS_KEYWORD] = labels
    return resolved


# --- validating data ---------------------------------------------------------------------


def validate_form(
    form: Mapping[str, Any],
    data: Any,
    *,
    dictionaries: Mapping[str, Sequence[Any]] | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[FieldError]:
    """Validate submitted ``data`` against ``form``; one entry per failing field.

    Schema errors come first, then the cross-field rules; a rule whose ``fields``
    already failed, or are missing from ``data``, is not evaluated. ``context`` adds
    variables the rules may read but the form does not submit (``initiator``, the
    department's annual budget ...). ``dictionaries`` resolve ``x-dictionary``
    references that are still in the schema.
    """
    if not isinstance(data, Mapping):
        return [_error("", "the submitted data must be a JSON object")]
    try:
        size = len(json.dumps(data, default=str))
    except (TypeError, ValueError):
        return [_error("", "the submitted data is not JSON")]
    if size > MAX_DATA_BYTES:
        return [_error("", f"the submitted data is larger than {MAX_DATA_BYTES} bytes")]
    schema = form.get("schema") or {}
    if dictionaries is not None and dictionary_keys(schema):
        schema = resolve_dictionaries(schema, dictionaries)
    found: dict[str, str] = {}
    for field, message in _schema_errors(schema, data):
        found.setdefault(field, message)
        if len(found) >= MAX_ERRORS:
            break
    for field, message in _rule_errors(form.get("rules") or [], data, context, set(found)):
        found.setdefault(field, message)
    return [_error(field, message) for field, message in found.items()]


def _schema_errors(schema: Mapping[str, Any], data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    validator = _Validator(schema, registry=_REGISTRY, format_checker=_FORMATS)
    try:
        errors = sorted(validator.iter_errors(data), key=_error_order)
    except Unresolvable as exc:
        yield "", f"the form's schema has an unresolvable reference: {exc}"
        return
    for error in errors:
        yield from _describe(error)


def _error_order(error: ValidationError) -> tuple[Any, ...]:
    return (len(error.absolute_path), [str(p) for p in error.absolute_path])


def _describe(error: ValidationError) -> Iterator[tuple[str, str]]:
    path = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, Mapping):
        for name in error.validator_value:
            if name not in instance:
                yield _path([*path, name]), "is required"
        return
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        known = set(
            (error.schema.get("properties") or {}) if isinstance(error.schema, Mapping) else ()
        )
        for name in instance:
            if name not in known:
                yield _path([*path, name]), "is not a field of this form"
        return
    if error.validator == "format" and error.validator_value == ATTACHMENT_FORMAT:
        yield _path(path), "is not the id of an uploaded attachment"
        return
    yield _path(path), error.message


def _rule_errors(
    rules: Sequence[Mapping[str, Any]],
    data: Mapping[str, Any],
    context: Mapping[str, Any] | None,
    failed: set[str],
) -> Iterator[tuple[str, str]]:
    variables = {**(context or {}), **data}
    for rule in rules:
        fields = list(rule.get("fields") or [])
        if any(f in failed or f not in data for f in fields):
            continue
        message = str(rule.get("message") or "the form is not valid")
        try:
            holds = as_bool(compile_expression(str(rule.get("expression"))).evaluate(variables))
        except ExpressionError:
            holds = False
        if holds is not True:
            for field in fields or [""]:
                yield field, message


def _path(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _error(field: str, message: str) -> FieldError:
    return {"field": field, "message": message}
