"""BPMN round trip: every MIWG reference model imports and exports without loss, and a
designer edit changes exactly what it meant to change."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.designer.bpmn.compare import canonical, differences
from services.designer.bpmn.document import BpmnDocument, Raci, read_raci
from services.designer.definitions.parsing import Limits
from tests.designer.conftest import CORPUS, EMPLOYEE, process_xml, upload

LIMITS = Limits(max_bytes=5 * 1024 * 1024, max_depth=100)
MODELS = sorted(CORPUS.glob("*.bpmn"))
DOCUMENTATION = "Geändert vom Designer – 已由设计器修改"


def test_the_corpus_is_all_there():
    assert len(MODELS) == 21


@pytest.mark.parametrize("path", MODELS, ids=[p.name for p in MODELS])
def test_the_parsed_tree_serialises_to_the_same_document(path: Path):
    original = path.read_bytes()
    document = BpmnDocument.parse(original, LIMITS)
    exported = document.serialize()
    assert differences(original, exported) == []
    assert canonical(original) == canonical(exported)
    assert exported.startswith(b"<?xml") == original.lstrip(b"\xef\xbb\xbf").startswith(b"<?xml")


def _first_process_id(data: bytes) -> str:
    return BpmnDocument.parse(data, LIMITS).processes()[0].get("id")


async def _export(client, definition_id: str) -> bytes:
    response = await client.get(
        f"/api/v1/definitions/{definition_id}/bpmn", headers=client.as_user(*EMPLOYEE)
    )
    assert response.status_code == 200, response.text
    return response.content


async def test_every_reference_model_round_trips_through_the_api(client):
    for path in MODELS:
        original = path.read_bytes()
        created = await upload(client, original)
        assert created.status_code == 201, (path.name, created.text)
        body = created.json()
        exported = await _export(client, body["id"])
        assert differences(original, exported) == [], path.name

        process_id = _first_process_id(original)
        edit = {
            "operations": [
                {"op": "document", "element_id": process_id, "text": DOCUMENTATION},
            ],
            "change_note": "document the process",
        }
        edited = await client.post(
            f"/api/v1/definitions/{body['id']}/edits",
            json=edit,
            headers=client.as_user("dora", "process_designer"),
        )
        assert edited.status_code == 201, (path.name, edited.text)
        assert edited.json()["version"] == body["version"] + 1
        assert edited.json()["change_note"] == "document the process"
        changed = await _export(client, edited.json()["id"])
        found = differences(original, changed)
        assert len(found) == 1, (path.name, found)
        [only] = found
        assert only.path.endswith(f"process[@id={process_id!r}]/documentation"), only
        assert only.kind in ("added", "text")
        assert DOCUMENTATION in (only.after or "")
        # the document keeps its encoding and declaration
        assert changed.split(b"?>", 1)[0] == original.split(b"?>", 1)[0] or not original.startswith(
            b"<?xml"
        )


async def test_an_iso_8859_1_model_stays_iso_8859_1_when_edited(client):
    original = (CORPUS / "A.2.0.bpmn").read_bytes()
    body = (await upload(client, original)).json()
    edit = {"operations": [{"op": "rename", "element_id": "WFP-6-", "name": "Prüfung"}]}
    edited = await client.post(
        f"/api/v1/definitions/{body['id']}/edits",
        json=edit,
        headers=client.as_user("dora", "process_designer"),
    )
    assert edited.status_code == 201, edited.text
    assert edited.json()["name"] == "Prüfung"
    changed = await _export(client, edited.json()["id"])
    assert changed.startswith(b'<?xml version="1.0" encoding="ISO-8859-1" standalone="yes"?>')
    assert "Prüfung".encode("iso-8859-1") in changed
    [only] = differences(original, changed)
    assert only.kind == "attributes"


def test_designer_edits_go_into_the_tree_and_nothing_else_changes():
    original = (CORPUS / "C.1.1.bpmn").read_bytes()
    document = BpmnDocument.parse(original, LIMITS)
    raci = Raci(responsible="role:accounting", informed="user:alice, role:risk")
    document.set_raci("approveInvoice", raci)
    document.set_form_key("approveInvoice", "approval")
    document.set_bpm_attributes("approveInvoice", {"timeLimit": "P1D", "timeoutAction": "escalate"})
    exported = document.to_bytes()
    found = differences(original, exported)
    assert {d.kind for d in found} == {"attributes", "added"}
    assert all("approveInvoice" in d.path for d in found)
    again = BpmnDocument.parse(exported, LIMITS)
    task = again.find("approveInvoice")
    assert read_raci(task) == raci
    assert b'xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0"' in exported
    # removing what was added gives the original back, canonically
    again.set_raci("approveInvoice", None)
    again.set_bpm_attributes("approveInvoice", {"timeLimit": None, "timeoutAction": None})
    again.set_form_key("approveInvoice", None)
    assert differences(original, again.to_bytes()) == []


async def test_an_edit_naming_an_unknown_element_is_422_and_stores_nothing(client):
    body = (await upload(client, process_xml("<bpmn:startEvent id='s'/>", executable=False))).json()
    response = await client.post(
        f"/api/v1/definitions/{body['id']}/edits",
        json={"operations": [{"op": "rename", "element_id": "nope", "name": "x"}]},
        headers=client.as_user("dora", "process_designer"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "operations[0].element_id"
    listed = await client.get(
        "/api/v1/definitions", params={"key": "p1"}, headers=client.as_user(*EMPLOYEE)
    )
    assert [i["version"] for i in listed.json()["items"]] == [1]


async def test_only_designers_edit(client):
    body = (await upload(client, process_xml("<bpmn:startEvent id='s'/>"))).json()
    response = await client.post(
        f"/api/v1/definitions/{body['id']}/edits",
        json={"operations": [{"op": "rename", "element_id": "s", "name": "x"}]},
        headers=client.as_user(*EMPLOYEE),
    )
    assert response.status_code == 403
