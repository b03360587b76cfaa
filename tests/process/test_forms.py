"""Forms: JSON Schema 2020-12 validation with cross-field rules, one error per field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bpm_process.forms import (
    LABELS_KEYWORD,
    check_form,
    dictionary_keys,
    resolve_dictionaries,
    validate_form,
)

PURCHASE = {
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["applicant", "budget", "items"],
        "additionalProperties": False,
        "properties": {
            "applicant": {"type": "string", "minLength": 1},
            "budget": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01},
            "category": {"type": "string", "x-dictionary": "product_categories"},
            "quantity": {"type": "integer", "minimum": 1},
            "quote": {"type": "string", "format": "attachment-id"},
            "needed_by": {"type": "string", "format": "date"},
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name", "amount"],
                    "properties": {"name": {"type": "string"}, "amount": {"type": "number"}},
                },
            },
        },
    },
    "ui_schema": {"ui:order": ["applicant", "budget", "items"]},
    "rules": [
        {
            "expression": "${budget < department_budget * 0.1}",
            "message": "the budget must stay below 10 % of the department's annual budget",
            "fields": ["budget"],
        }
    ],
}
CATEGORIES = {
    "product_categories": [
        {"code": "it", "labels": {"en": "IT equipment", "zh-CN": "IT 设备"}},
        {"code": "office", "labels": {"en": "Office supplies"}},
    ]
}
CONTEXT = {"department_budget": Decimal("100000")}
VALID = {
    "applicant": "alice",
    "budget": Decimal("2500.50"),
    "category": "it",
    "quantity": Decimal("3"),
    "items": [{"name": "laptop", "amount": 2500.5}],
}


def fields(errors: list[dict[str, str]]) -> list[str]:
    return [e["field"] for e in errors]


def test_a_valid_submission_has_no_errors():
    assert check_form(PURCHASE, dictionaries=CATEGORIES) == []
    assert validate_form(PURCHASE, VALID, dictionaries=CATEGORIES, context=CONTEXT) == []


def test_one_entry_per_failing_field_with_paths_into_lists():
    data = {
        "budget": Decimal("12.345"),
        "category": "food",
        "quantity": 0,
        "quote": "not-an-id",
        "needed_by": "2024-13-01",
        "items": [{"name": "pen"}],
        "colour": "red",
    }
    errors = validate_form(PURCHASE, data, dictionaries=CATEGORIES, context=CONTEXT)
    assert sorted(fields(errors)) == sorted(
        [
            "applicant",
            "budget",
            "category",
            "quantity",
            "quote",
            "needed_by",
            "items[0].amount",
            "colour",
        ]
    )
    by_field = {e["field"]: e["message"] for e in errors}
    assert by_field["applicant"] == "is required"
    assert "multiple of 0.01" in by_field["budget"]
    assert by_field["colour"] == "is not a field of this form"
    assert by_field["quote"] == "is not the id of an uploaded attachment"


def test_a_cross_field_rule_fails_on_the_fields_it_names():
    too_big = {**VALID, "budget": Decimal("10000.00")}
    errors = validate_form(PURCHASE, too_big, dictionaries=CATEGORIES, context=CONTEXT)
    assert errors == [
        {
            "field": "budget",
            "message": "the budget must stay below 10 % of the department's annual budget",
        }
    ]
    # the rule is not evaluated when its field already failed the schema
    negative = {**VALID, "budget": Decimal("-1")}
    [only] = validate_form(PURCHASE, negative, dictionaries=CATEGORIES, context=CONTEXT)
    assert only["field"] == "budget" and "10 %" not in only["message"]


def test_rules_see_the_data_and_compare_dates_and_decimals_in_feel_too():
    form = {
        "schema": {"type": "object", "properties": {"start": {}, "end": {}}},
        "rules": [
            {"expression": "=end >= start", "message": "ends before it starts", "fields": ["end"]}
        ],
    }
    assert validate_form(form, {"start": "2024-05-01", "end": "2024-05-03"}) == []
    assert fields(validate_form(form, {"start": "2024-05-03", "end": "2024-05-01"})) == ["end"]


def test_dictionaries_resolve_into_an_enum_with_labels():
    assert dictionary_keys(PURCHASE["schema"]) == {"product_categories"}
    resolved = resolve_dictionaries(PURCHASE["schema"], CATEGORIES)
    category = resolved["properties"]["category"]
    assert category["enum"] == ["it", "office"]
    assert category[LABELS_KEYWORD]["it"] == {"en": "IT equipment", "zh-CN": "IT 设备"}
    assert "enum" not in PURCHASE["schema"]["properties"]["category"]  # the input is not changed
    published = {**PURCHASE, "schema": resolved}
    assert validate_form(published, VALID, context=CONTEXT) == []
    assert fields(validate_form(published, {**VALID, "category": "x"}, context=CONTEXT)) == [
        "category"
    ]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"schema": {"type": "object", "properties": {"a": {"$ref": "http://h/x"}}}}, "$ref"),
        ({"schema": {"type": "object", "$id": "https://evil.example/s"}}, "$id"),
        ({"schema": {"type": "object", "properties": {"a": {"pattern": "(a+)+$"}}}}, "pattern"),
        ({"schema": {"type": "object", "properties": {"a": {"pattern": "(a|ab)*c"}}}}, "pattern"),
        ({"schema": {"type": "object", "properties": {"a": {"pattern": "(["}}}}, "pattern"),
        ({"schema": {"type": "object", "properties": {"a": {"type": "nope"}}}}, "schema"),
        ({"schema": {"type": "array"}}, "schema.type"),
        ({"schema": {"$schema": "http://json-schema.org/draft-04/schema#"}}, "$schema"),
        ({"schema": {}, "rules": [{"expression": "${a >", "message": "m"}]}, "rules[0].expression"),
        ({"schema": {}, "rules": [{"expression": "${a > 1}"}]}, "rules[0].message"),
        ({"schema": {}, "extra": 1}, "extra"),
        ({"ui_schema": {}}, "schema"),
    ],
)
def test_unsafe_or_broken_forms_are_refused(form, field):
    errors = check_form(form)
    assert errors, form
    assert any(field in e["field"] for e in errors), errors


def test_deep_schemas_are_refused():
    node: dict = {"type": "string"}
    for _ in range(40):
        node = {"type": "object", "properties": {"x": node}}
    assert "deeper" in check_form({"schema": node})[0]["message"]


def test_an_unknown_dictionary_is_a_problem_of_the_form():
    errors = check_form(PURCHASE, dictionaries={})
    assert fields(errors) == ["schema.properties.category.x-dictionary"]


def test_a_remote_reference_is_never_fetched_during_validation():
    form = {"schema": {"type": "object", "properties": {"a": {"$ref": "http://127.0.0.1:9/s"}}}}
    [error] = validate_form(form, {"a": 1})
    assert "unresolvable" in error["message"]


def test_local_references_work():
    form = {
        "schema": {
            "type": "object",
            "$defs": {"money": {"type": "number", "minimum": 0}},
            "properties": {"amount": {"$ref": "#/$defs/money"}},
        }
    }
    assert check_form(form) == []
    assert fields(validate_form(form, {"amount": -1})) == ["amount"]


def test_data_that_is_not_an_object_or_too_long_for_a_pattern():
    assert validate_form(PURCHASE, ["x"])[0]["field"] == ""
    form = {"schema": {"type": "object", "properties": {"code": {"pattern": "^[a-z]+$"}}}}
    assert fields(validate_form(form, {"code": "a" * 20_000})) == ["code"]
    assert validate_form(form, {"code": "abc"}) == []
