"""Forms of a definition version, server-side validation, dictionaries and attachments."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.designer.conftest import ADMIN, DESIGNER, EMPLOYEE, TEMPLATE, upload

PURCHASE_FORM: dict[str, Any] = {
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["budget", "annual_budget", "category"],
        "properties": {
            "budget": {"type": "number", "exclusiveMinimum": 0},
            "annual_budget": {"type": "number"},
            "category": {"type": "string", "x-dictionary": "product_categories"},
            "quote": {"type": "string", "format": "attachment-id"},
        },
    },
    "ui_schema": {"annual_budget": {"ui:readonly": True}},
    "rules": [
        {
            "expression": "${budget < annual_budget * 0.1}",
            "message": "below 10 % of the annual budget",
            "fields": ["budget"],
        }
    ],
}
CATEGORIES = {
    "names": {"en": "Product categories", "zh-CN": "产品类别"},
    "items": [
        {"code": "it", "labels": {"en": "IT equipment", "zh-CN": "IT 设备"}},
        {"code": "office", "labels": {"en": "Office supplies"}},
        {"code": "legacy", "labels": {"en": "Legacy"}, "active": False},
    ],
}


async def put_dictionary(client, key: str = "product_categories", body=None, user=DESIGNER):
    return await client.put(
        f"/api/v1/dictionaries/{key}", json=body or CATEGORIES, headers=client.as_user(*user)
    )


async def draft_with_form(client) -> str:
    assert (await put_dictionary(client)).status_code == 201
    definition = (await upload(client, TEMPLATE.read_bytes())).json()
    response = await client.put(
        f"/api/v1/definitions/{definition['id']}/forms/expense",
        json=PURCHASE_FORM,
        headers=client.as_user(*DESIGNER),
    )
    assert response.status_code == 201, response.text
    return definition["id"]


async def validate(client, definition_id: str, data: dict[str, Any], user=EMPLOYEE):
    return await client.post(
        "/api/v1/forms/validate",
        json={"definition_id": definition_id, "form": "form:expense", "data": data},
        headers=client.as_user(*user),
    )


async def test_a_form_is_stored_with_the_draft_and_shows_where_it_is_used(client):
    definition_id = await draft_with_form(client)
    form = await client.get(
        f"/api/v1/definitions/{definition_id}/forms/form:expense", headers=client.as_user(*EMPLOYEE)
    )
    assert form.status_code == 200
    body = form.json()
    assert body["form_key"] == "form:expense"
    assert body["used_by"] == ["StartEvent_Submitted"]
    assert body["schema"] == PURCHASE_FORM["schema"]
    assert body["rules"] == PURCHASE_FORM["rules"]


async def test_validation_answers_one_entry_per_failing_field(client):
    definition_id = await draft_with_form(client)
    ok = await validate(
        client, definition_id, {"budget": 50, "annual_budget": 1000, "category": "it"}
    )
    assert ok.status_code == 200, ok.text
    bad = await validate(
        client, definition_id, {"budget": -1, "category": "legacy", "quote": "not-an-id"}
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    fields = sorted(e["field"] for e in bad.json()["errors"])
    assert fields == ["annual_budget", "budget", "category", "quote"]
    rule = await validate(
        client, definition_id, {"budget": "200.00", "annual_budget": 1000, "category": "it"}
    )
    assert rule.status_code == 422
    # "200.00" is a string, so the schema fails first; a number breaks the rule instead
    too_much = await validate(
        client, definition_id, {"budget": 200, "annual_budget": 1000, "category": "office"}
    )
    assert too_much.json()["errors"] == [
        {"field": "budget", "message": "below 10 % of the annual budget"}
    ]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (
            {"schema": {"type": "object", "properties": {"a": {"$ref": "https://x.example/s"}}}},
            "$ref",
        ),
        (
            {"schema": {"type": "object", "properties": {"a": {"x-dictionary": "nope"}}}},
            "x-dictionary",
        ),
        (
            {"schema": {"type": "object"}, "rules": [{"expression": "${a >", "message": "m"}]},
            "rules[0]",
        ),
    ],
)
async def test_an_invalid_form_is_refused_naming_the_field(client, form, field):
    definition = (await upload(client, TEMPLATE.read_bytes())).json()
    response = await client.put(
        f"/api/v1/definitions/{definition['id']}/forms/expense",
        json=form,
        headers=client.as_user(*DESIGNER),
    )
    assert response.status_code == 422
    assert any(field in e["field"] for e in response.json()["errors"]), response.json()


async def test_forms_change_only_on_drafts_and_travel_to_the_next_version(client):
    definition_id = await draft_with_form(client)
    published = await client.post(
        f"/api/v1/definitions/{definition_id}/publish", json={}, headers=client.as_user(*DESIGNER)
    )
    assert published.status_code == 200, published.text
    frozen = await client.put(
        f"/api/v1/definitions/{definition_id}/forms/expense",
        json=PURCHASE_FORM,
        headers=client.as_user(*DESIGNER),
    )
    assert frozen.status_code == 409
    removed = await client.delete(
        f"/api/v1/definitions/{definition_id}/forms/expense", headers=client.as_user(*DESIGNER)
    )
    assert removed.status_code == 409
    second = (await upload(client, TEMPLATE.read_bytes())).json()
    forms = await client.get(
        f"/api/v1/definitions/{second['id']}/forms", headers=client.as_user(*EMPLOYEE)
    )
    assert [f["name"] for f in forms.json()["items"]] == ["expense"]
    deleted = await client.delete(
        f"/api/v1/definitions/{second['id']}/forms/expense", headers=client.as_user(*DESIGNER)
    )
    assert deleted.status_code == 204


async def test_only_designers_write_forms(client):
    definition = (await upload(client, TEMPLATE.read_bytes())).json()
    response = await client.put(
        f"/api/v1/definitions/{definition['id']}/forms/expense",
        json=PURCHASE_FORM,
        headers=client.as_user(*EMPLOYEE),
    )
    assert response.status_code == 403


async def test_dictionaries_keep_order_and_translate(client):
    created = await put_dictionary(client)
    assert created.status_code == 201, created.text
    english = (
        await client.get(
            "/api/v1/dictionaries/product_categories", headers=client.as_user(*EMPLOYEE)
        )
    ).json()
    assert [i["code"] for i in english["items"]] == ["it", "office", "legacy"]
    assert english["items"][0]["label"] == "IT equipment"
    chinese = (
        await client.get(
            "/api/v1/dictionaries/product_categories",
            params={"locale": "zh-CN"},
            headers=client.as_user(*EMPLOYEE),
        )
    ).json()
    assert chinese["name"] == "产品类别"
    assert [i["label"] for i in chinese["items"]] == ["IT 设备", "Office supplies", "Legacy"]
    reordered = {**CATEGORIES, "items": list(reversed(CATEGORIES["items"]))}
    replaced = await put_dictionary(client, body=reordered, user=ADMIN)
    assert replaced.status_code == 200
    assert [i["code"] for i in replaced.json()["items"]] == ["legacy", "office", "it"]
    listed = (await client.get("/api/v1/dictionaries", headers=client.as_user(*EMPLOYEE))).json()
    assert [d["key"] for d in listed["items"]] == ["product_categories"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"names": {"zh-CN": "只有中文"}, "items": []}, "names"),
        (
            {"names": {"en": "X"}, "items": [{"code": "a", "labels": {"en": "A"}}] * 2},
            "items[0].code",
        ),
        ({"names": {"en": "X"}, "items": [{"code": "a b", "labels": {"en": "A"}}]}, "items.0.code"),
        ({"names": {"en": "X", "fr": "Y"}, "items": []}, "names"),
    ],
)
async def test_invalid_dictionaries_are_refused(client, body, field):
    response = await put_dictionary(client, "kinds", body)
    assert response.status_code == 422
    assert any(e["field"] == field for e in response.json()["errors"]), response.json()


async def test_employees_do_not_write_dictionaries(client):
    assert (await put_dictionary(client, user=EMPLOYEE)).status_code == 403


PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


async def test_attachments_are_typed_by_content_and_downloadable(client):
    uploaded = await client.post(
        "/api/v1/forms/attachments",
        files={"file": ("../../quote.pdf", PDF, "image/png")},
        headers=client.as_user(*EMPLOYEE),
    )
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert body["media_type"] == "application/pdf"  # the header said image/png
    assert body["filename"] == "quote.pdf"
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["size"] == len(PDF)
    download = await client.get(
        f"/api/v1/forms/attachments/{body['id']}", headers=client.as_user("bob")
    )
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    unauthenticated = await client.get(f"/api/v1/forms/attachments/{body['id']}")
    assert unauthenticated.status_code == 401


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_attachment_bytes": 2048}


async def test_attachments_over_the_limit_or_of_a_refused_kind_are_refused(client):
    big = await client.post(
        "/api/v1/forms/attachments",
        files={"file": ("big.pdf", PDF + b"x" * 4096, "application/pdf")},
        headers=client.as_user(*EMPLOYEE),
    )
    assert big.status_code == 413
    executable = await client.post(
        "/api/v1/forms/attachments",
        files={"file": ("tool.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "application/pdf")},
        headers=client.as_user(*EMPLOYEE),
    )
    assert executable.status_code == 415
    assert "application/octet-stream" in executable.json()["detail"]
    empty = await client.post(
        "/api/v1/forms/attachments",
        files={"file": ("empty.txt", b"", "text/plain")},
        headers=client.as_user(*EMPLOYEE),
    )
    assert empty.status_code == 422
