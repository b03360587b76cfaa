"""Hostile and unusual documents at the designer's upload: refused with a problem+json
naming the fault and nothing stored, or (when they are fine BPMN) stored as they are.
Complements tests/designer/test_hostile_xml.py (DOCTYPE, entities, depth, size)."""

from __future__ import annotations

import codecs
import gzip

import pytest

from tests.compat.conftest import upload, xml_headers
from tests.designer.conftest import SIMPLE, definition_count

LAUGHS = b"""<?xml version="1.0" encoding="%s"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY ext SYSTEM "file:///etc/passwd">]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <process id="lol" name="&lol2;&ext;" isExecutable="true"/>
</definitions>"""


def _ebcdic_laughs() -> bytes:
    return (LAUGHS % b"IBM037").decode().encode("cp037")


def _utf8_bytes_under_a_utf16_declaration() -> bytes:
    return SIMPLE.replace(b'encoding="UTF-8"', b'encoding="UTF-16"')


REFUSED = {
    "doctype-in-ebcdic": (_ebcdic_laughs(), 400),
    "utf8-bytes-declared-utf16": (_utf8_bytes_under_a_utf16_declaration(), 400),
    "invalid-utf8-bytes": (SIMPLE.replace(b'name="Approve"', b'name="Appr\xe9ve"'), 400),
    "unknown-encoding": (SIMPLE.replace(b'encoding="UTF-8"', b'encoding="x-no-such"'), 400),
    "gzip-body": (gzip.compress(SIMPLE), 400),
    "nested-past-libxml2-limit": (
        SIMPLE.replace(b"</bpmn:definitions>", b"<x>" * 300 + b"</x>" * 300 + b"</bpmn:definitions>"),
        400),
    "xinclude": (SIMPLE.replace(
        b'<bpmn:process',
        b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" '
        b'parse="text"/><bpmn:process'), 201),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
async def test_hostile_documents_are_refused_cleanly(client, db, case):
    data, status = REFUSED[case]
    response = await upload(client, data)
    assert response.status_code == status, response.text
    assert b"root:" not in response.content
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["detail"] and problem["errors"], problem
        assert await definition_count(db) == 0
    else:
        exported = await client.get(f"/api/v1/definitions/{response.json()['id']}/bpmn",
                                    headers=xml_headers(client))
        assert b"root:" not in exported.content


ACCEPTED = {
    "utf8-bom": codecs.BOM_UTF8 + SIMPLE,
    "utf16-bom": SIMPLE.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"),
    "no-declaration": SIMPLE.split(b"\n", 1)[1],
    "huge-documentation": SIMPLE.replace(
        b'camunda:assignee="bob"/>',
        b'camunda:assignee="bob"><bpmn:documentation>' + b"x" * 3_000_000
        + b"</bpmn:documentation></bpmn:userTask>"),
}


@pytest.mark.parametrize("case", list(ACCEPTED), ids=list(ACCEPTED))
async def test_unusual_but_valid_documents_are_stored_and_exported_as_uploaded(client, case):
    data = ACCEPTED[case]
    response = await upload(client, data)
    assert response.status_code == 201, response.text
    assert response.json()["key"] == "p1"
    exported = await client.get(f"/api/v1/definitions/{response.json()['id']}/bpmn",
                                headers=xml_headers(client))
    assert exported.content == data
    lint = await client.get(f"/api/v1/definitions/{response.json()['id']}",
                            headers=xml_headers(client))
    assert lint.status_code == 200, lint.text


async def test_a_huge_attribute_is_refused_naming_its_element(client, db):
    data = SIMPLE.replace(b'name="Approve"', b'name="' + b"y" * 3_000_000 + b'"')
    response = await upload(client, data)
    assert response.status_code == 422
    assert response.json()["errors"][0]["element_id"] == "t1"
    assert await definition_count(db) == 0


async def test_a_process_id_too_long_for_a_key_is_refused_naming_it(client, db):
    data = SIMPLE.replace(b'id="p1"', b'id="' + b"p" * 300 + b'"')
    response = await upload(client, data)
    assert response.status_code == 422
    assert response.json()["errors"][0]["message"].startswith("longer than")
    assert await definition_count(db) == 0
