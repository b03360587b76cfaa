"""Hostile and broken documents are refused before anything is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.designer.conftest import SIMPLE, definition_count, upload, xml_headers

MAX_BYTES = 4096


@pytest.fixture
def settings_overrides() -> dict[str, int]:
    return {"max_bpmn_bytes": MAX_BYTES, "max_bpmn_depth": 50}


EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE definitions [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <process id="leak" name="&secret;" isExecutable="true"/>
</definitions>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <process id="lol" name="&lol4;" isExecutable="true"/>
</definitions>"""

TOO_DEEP = (
    b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
    + b"<documentation>" * 60
    + b"</documentation>" * 60
    + b"</definitions>"
)

NOT_BPMN = (
    b'<?xml version="1.0"?><project xmlns="http://maven.apache.org/POM/4.0.0"><id>x</id></project>'
)

NO_PROCESS = b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"/>'

DANGLING = b"""<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="s"/>
    <sequenceFlow id="f" sourceRef="s"/>
  </process>
</definitions>"""


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (EXTERNAL_ENTITY, 400, "DOCTYPE"),
        (BILLION_LAUGHS, 400, "DOCTYPE"),
        (TOO_DEEP, 400, "deeper"),
        (b"this is not xml at all", 400, "well-formed"),
        (b"<definitions><unclosed></definitions>", 400, "well-formed"),
        (b"", 400, "empty"),
        (NOT_BPMN, 422, "BPMN"),
        (NO_PROCESS, 422, "no process"),
        (DANGLING, 422, "sourceRef and targetRef"),
    ],
    ids=[
        "external-entity",
        "billion-laughs",
        "too-deep",
        "not-xml",
        "not-well-formed",
        "empty",
        "not-bpmn",
        "no-process",
        "dangling-flow",
    ],
)
async def test_refused_with_a_problem_naming_the_fault_and_nothing_stored(
    client, db, data, status, words
):
    response = await upload(client, data)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["errors"], problem
    assert words in problem["detail"] + " ".join(e["message"] for e in problem["errors"])
    assert b"root:" not in response.content  # the external entity was never read
    assert await definition_count(db) == 0


async def test_a_dangling_flow_is_named_by_its_element_id(client):
    problem = (await upload(client, DANGLING)).json()
    assert [e["element_id"] for e in problem["errors"]] == ["f"]


def _oversize() -> bytes:
    padding = b"<!--" + b"x" * MAX_BYTES + b"-->"
    return SIMPLE.replace(b"<bpmn:definitions", padding + b"<bpmn:definitions", 1)


async def test_a_document_over_the_size_limit_is_413(client, db):
    response = await upload(client, _oversize())
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert await definition_count(db) == 0


async def test_the_size_limit_holds_without_a_content_length(client, db):
    async def chunks() -> AsyncIterator[bytes]:
        data = _oversize()
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    response = await client.post(
        "/api/v1/definitions", content=chunks(), headers=xml_headers(client)
    )
    assert response.status_code == 413
    assert await definition_count(db) == 0


async def test_the_size_limit_holds_against_a_lying_content_length(client, db):
    headers = {**xml_headers(client), "Content-Length": "100"}
    response = await client.post("/api/v1/definitions", content=_oversize(), headers=headers)
    assert response.status_code == 413
    assert await definition_count(db) == 0


async def test_a_declared_content_length_over_the_limit_is_refused_at_once(client, db):
    headers = {**xml_headers(client), "Content-Length": str(MAX_BYTES + 1)}
    response = await client.post(
        "/api/v1/definitions", content=_oversize()[: MAX_BYTES + 1], headers=headers
    )
    assert response.status_code == 413


async def test_lint_reports_hostile_xml_as_findings_and_refuses_oversize(client):
    headers = xml_headers(client)
    report = await client.post("/api/v1/definitions/lint", content=EXTERNAL_ENTITY, headers=headers)
    assert report.status_code == 200
    body = report.json()
    assert body["valid"] is False
    assert body["errors"][0]["rule"] == "bpmn-valid"
    assert "DOCTYPE" in body["errors"][0]["message"]
    too_big = await client.post("/api/v1/definitions/lint", content=_oversize(), headers=headers)
    assert too_big.status_code == 413


@pytest.mark.parametrize("data", [EXTERNAL_ENTITY, BILLION_LAUGHS, TOO_DEEP, NOT_BPMN])
async def test_the_tree_builder_refuses_hostile_xml_too(client, data):
    response = await client.post(
        "/api/v1/approval-trees/decompile", content=data, headers=xml_headers(client)
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert b"root:" not in response.content
    too_big = await client.post(
        "/api/v1/approval-trees/decompile", content=_oversize(), headers=xml_headers(client)
    )
    assert too_big.status_code == 413
