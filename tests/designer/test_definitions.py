"""Uploading, versioning, listing and exporting process definitions."""

from __future__ import annotations

import hashlib

from tests.designer.conftest import (
    CORPUS,
    EMPLOYEE,
    SIMPLE,
    TEMPLATE,
    definition_count,
    linear,
    process_xml,
    upload,
    xml_headers,
)


async def test_upload_creates_a_draft_keyed_by_the_executable_process(client):
    data = TEMPLATE.read_bytes()
    response = await upload(client, data, change_note="first cut")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["key"] == "expense-reimbursement"
    assert body["version"] == 1
    assert body["status"] == "draft"
    assert body["name"] == "Expense reimbursement"
    assert body["executable"] is True
    assert body["live"] is False
    assert body["change_note"] == "first cut"
    assert body["created_by"] == "dora"
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size"] == len(data)
    assert response.headers["location"] == f"/api/v1/definitions/{body['id']}"


async def test_the_same_key_again_is_the_next_version_and_another_key_starts_at_one(client):
    first = (await upload(client, SIMPLE)).json()
    second = (await upload(client, SIMPLE, change_note="again")).json()
    other = (await upload(client, process_xml(linear(), process_id="other"))).json()
    assert (first["key"], first["version"]) == ("p1", 1)
    assert (second["key"], second["version"]) == ("p1", 2)
    assert (other["key"], other["version"]) == ("other", 1)
    assert len({first["id"], second["id"], other["id"]}) == 3


async def test_list_is_newest_first_filters_by_key_and_pages_with_a_cursor(client):
    ids = [(await upload(client, SIMPLE)).json()["id"] for _ in range(3)]
    await upload(client, process_xml(linear(), process_id="other"))
    reader = client.as_user(*EMPLOYEE)

    page = (
        await client.get("/api/v1/definitions", params={"key": "p1", "limit": 2}, headers=reader)
    ).json()
    assert [i["id"] for i in page["items"]] == [ids[2], ids[1]]
    assert [i["version"] for i in page["items"]] == [3, 2]
    assert page["next_cursor"]
    rest = (
        await client.get(
            "/api/v1/definitions",
            params={"key": "p1", "limit": 2, "cursor": page["next_cursor"]},
            headers=reader,
        )
    ).json()
    assert [i["id"] for i in rest["items"]] == [ids[0]]
    assert rest["next_cursor"] is None

    everything = (await client.get("/api/v1/definitions", headers=reader)).json()
    assert [i["key"] for i in everything["items"]] == ["other", "p1", "p1", "p1"]
    item = everything["items"][0]
    assert {"id", "key", "version", "status", "name", "created_at", "published_at"} <= item.keys()

    drafts = (
        await client.get("/api/v1/definitions", params={"status": "published"}, headers=reader)
    ).json()
    assert drafts["items"] == []


async def test_list_refuses_a_forged_cursor_and_an_unknown_status(client):
    reader = client.as_user(*EMPLOYEE)
    bad_cursor = await client.get(
        "/api/v1/definitions", params={"cursor": "not-a-cursor"}, headers=reader
    )
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["errors"][0]["field"] == "cursor"
    bad_status = await client.get("/api/v1/definitions", params={"status": "live"}, headers=reader)
    assert bad_status.status_code == 422
    assert bad_status.json()["errors"][0]["field"] == "status"


async def test_export_gives_back_the_uploaded_bytes_unchanged(client):
    data = TEMPLATE.read_bytes()
    created = (await upload(client, data)).json()
    exported = await client.get(
        f"/api/v1/definitions/{created['id']}/bpmn", headers=client.as_user(*EMPLOYEE)
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/xml"
    assert exported.content == data
    assert exported.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'


async def test_an_iso_8859_1_model_without_executable_process_is_stored_exactly_but_not_publishable(
    client,
):
    data = (CORPUS / "A.2.0.bpmn").read_bytes()
    assert b'encoding="ISO-8859-1"' in data
    created = await upload(client, data)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["key"] == "WFP-6-"
    assert body["executable"] is False
    exported = await client.get(
        f"/api/v1/definitions/{body['id']}/bpmn", headers=client.as_user(*EMPLOYEE)
    )
    assert exported.content == data

    refused = await client.post(
        f"/api/v1/definitions/{body['id']}/publish",
        json={},
        headers=client.as_user("dora", "process_designer"),
    )
    assert refused.status_code == 422
    assert "executable-process" in {e["rule"] for e in refused.json()["errors"]}


async def test_detail_carries_the_lint_report_for_publication(client):
    created = (await upload(client, process_xml(linear('<bpmn:userTask id="t1"/>')))).json()
    detail = await client.get(
        f"/api/v1/definitions/{created['id']}", headers=client.as_user(*EMPLOYEE)
    )
    assert detail.status_code == 200
    body = detail.json()
    assert body["key"] == "p1"
    assert body["lint"]["valid"] is False
    assert [(e["rule"], e["element_id"]) for e in body["lint"]["errors"]] == [
        ("user-task-assignment", "t1")
    ]


async def test_unknown_and_malformed_ids_are_404_and_422(client):
    reader = client.as_user(*EMPLOYEE)
    missing = await client.get(
        "/api/v1/definitions/0190b7c5-0000-7000-8000-000000000000", headers=reader
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    malformed = await client.get("/api/v1/definitions/not-a-uuid", headers=reader)
    assert malformed.status_code == 422


async def test_only_xml_is_accepted(client):
    headers = {**client.as_user("dora", "process_designer"), "Content-Type": "application/json"}
    response = await client.post("/api/v1/definitions", content=SIMPLE, headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    as_text_xml = {**headers, "Content-Type": "text/xml; charset=utf-8"}
    assert (
        await client.post("/api/v1/definitions", content=SIMPLE, headers=as_text_xml)
    ).status_code == 201


async def test_a_retried_upload_with_the_same_idempotency_key_makes_one_version(client, db):
    headers = {**xml_headers(client), "Idempotency-Key": "upload-42"}
    first = await client.post("/api/v1/definitions", content=SIMPLE, headers=headers)
    again = await client.post("/api/v1/definitions", content=SIMPLE, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert await definition_count(db) == 1
    other_body = await client.post(
        "/api/v1/definitions", content=process_xml(linear(), name="x"), headers=headers
    )
    assert other_body.status_code == 409


async def test_several_executable_processes_are_refused(client, db):
    two = process_xml(
        linear(),
        extra='<bpmn:process id="p2" isExecutable="true"><bpmn:startEvent id="s2"/></bpmn:process>',
    )
    response = await upload(client, two)
    assert response.status_code == 422
    assert {e["element_id"] for e in response.json()["errors"]} == {"p1", "p2"}
    assert await definition_count(db) == 0


async def test_writes_need_the_designer_role_and_every_call_a_token(client, db):
    employee = await upload(client, SIMPLE, *EMPLOYEE)
    assert employee.status_code == 403
    assert employee.headers["content-type"] == "application/problem+json"
    anonymous = await client.post(
        "/api/v1/definitions", content=SIMPLE, headers={"Content-Type": "application/xml"}
    )
    assert anonymous.status_code == 401
    assert (await client.get("/api/v1/definitions")).status_code == 401
    assert await definition_count(db) == 0
    admin = await upload(client, SIMPLE, "ada", "admin")
    assert admin.status_code == 201


async def test_operational_endpoints_and_openapi(client):
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": "designer"}
    assert (await client.get("/readyz")).status_code == 200
    assert "bpm_http_request_duration_seconds" in (await client.get("/metrics")).text
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {
        "/api/v1/definitions",
        "/api/v1/definitions/{definition_id}/publish",
        "/api/v1/org/users/{username}",
    } <= (paths.keys())
