"""The approval-tree builder: tree → BPMN → tree, the diagram it draws, and its API."""

from __future__ import annotations

import base64
import gzip
from typing import Any

import pytest
from lxml import etree

from services.designer.definitions.lint import lint
from services.designer.definitions.parsing import Limits
from services.designer.trees.compiler import compile_tree
from services.designer.trees.decompiler import NotABuilderModel, decompile
from services.designer.trees.schemas import ApprovalTree
from tests.designer.conftest import CORPUS, DESIGNER, EMPLOYEE, TEMPLATE, events, xml_headers

LIMITS = Limits(max_bytes=5 * 1024 * 1024, max_depth=100)
DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
WAYPOINT = "{http://www.omg.org/spec/DD/20100524/DI}waypoint"


def user(name: str) -> dict[str, str]:
    return {"type": "user", "username": name}


def role(name: str) -> dict[str, str]:
    return {"type": "role", "role": name}


LEAVE: dict[str, Any] = {
    "key": "leave-request",
    "name": "Leave request",
    "description": "Days off, approved by the manager; long leave also by HR.",
    "start": {"name": "Requested", "form": "leave"},
    "nodes": [
        {
            "type": "approver",
            "name": "Manager approval",
            "approvers": [{"type": "manager"}],
            "reject_action": "initiator",
            "form": "review",
            "time_limit": {"duration": "P1D", "remind_before": "PT2H", "action": "escalate"},
            "raci": {"responsible": [{"type": "manager"}], "informed": [role("hr")]},
        },
        {
            "type": "condition",
            "name": "How long?",
            "branches": [
                {
                    "name": "more than 5 days",
                    "condition": "${days > 5}",
                    "nodes": [
                        {
                            "type": "approver",
                            "name": "Directors countersign",
                            "approvers": [user("dave"), user("erin")],
                            "mode": "all",
                        },
                        {
                            "type": "parallel",
                            "branches": [
                                {"nodes": [{"type": "copy", "recipients": [role("hr")]}]},
                                {
                                    "nodes": [
                                        {
                                            "type": "automated",
                                            "name": "Book in HR system",
                                            "topic": "hr-booking",
                                        }
                                    ]
                                },
                            ],
                        },
                    ],
                },
                {
                    "name": "signers chosen",
                    "condition": "=signers != null",
                    "nodes": [
                        {
                            "type": "approver",
                            "name": "Signers in turn",
                            "approvers": [{"type": "field", "field": "signers"}],
                            "mode": "sequence",
                        }
                    ],
                },
            ],
            "default": {"name": "up to 5 days"},
        },
        {
            "type": "handler",
            "name": "Record leave",
            "handlers": [
                {"type": "department_role", "role": "clerk"},
                {"type": "department_role", "role": "hr", "department": "hq"},
            ],
            "time_limit": {
                "duration": "PT4H",
                "action": "reassign",
                "reassign_to": [{"type": "manager", "levels": 2}],
            },
        },
        {
            "type": "automated",
            "name": "Notify payroll",
            "http": {
                "method": "POST",
                "url": "https://payroll.example/leave/${initiator}",
                "headers": {"Authorization": "Bearer ${payrollToken}"},
                "body": '{"days": ${days}}',
                "response_variable": "payroll_id",
                "response_path": "data.id",
                "timeout": "PT10S",
                "retries": 3,
            },
        },
    ],
    "end_name": "Leave recorded",
}


def compiled(raw: dict[str, Any]) -> tuple[bytes, ApprovalTree]:
    document, tree = compile_tree(ApprovalTree.model_validate(raw))
    return document.to_bytes(), tree


def test_a_tree_compiles_to_lint_clean_executable_bpmn():
    data, _ = compiled(LEAVE)
    report = lint(data, LIMITS, publishing=True)
    assert report.valid, report.to_dict()
    assert report.warnings == []
    root = etree.fromstring(data)
    assert root.get("exporter") == "bpm-platform approval builder"
    task = root.find(".//{*}userTask[@id='approver_1']")
    bpm = "{http://bpm-platform.org/schema/bpmn/1.0}"
    assert task.get(f"{bpm}approval") == "true"
    assert task.get(f"{bpm}assignment") == "manager"
    assert task.get(f"{bpm}timeLimit") == "P1D"
    assert task.get(f"{bpm}rejectAction") == "initiator"
    assert task.get("{http://camunda.org/schema/1.0/bpmn}formKey") == "form:review"
    countersign = root.find(".//{*}userTask[@id='approver_2']")
    loop = countersign.find("{*}multiInstanceLoopCharacteristics")
    assert loop.get("{http://camunda.org/schema/1.0/bpmn}collection") == "${['dave', 'erin']}"
    assert countersign.get(f"{bpm}signMode") == "all"
    copy = root.find(".//{*}intermediateThrowEvent")
    assert copy.get(f"{bpm}copyTo") == "role:hr"


def test_tree_to_bpmn_to_tree_gives_the_same_tree_and_the_same_bpmn():
    data, with_ids = compiled(LEAVE)
    back = decompile(data, LIMITS)
    assert back == with_ids
    again, _ = compile_tree(back)
    assert again.to_bytes() == data


@pytest.mark.parametrize(
    "nodes",
    [
        [],
        [{"type": "approver", "name": "A", "approvers": [user("bob")]}],
        [
            {
                "type": "parallel",
                "branches": [
                    {"nodes": []},
                    {"nodes": [{"type": "copy", "recipients": [user("x")]}]},
                ],
            }
        ],
        [
            {
                "type": "condition",
                "branches": [{"name": "big", "condition": "${a > 1}"}],
                "default": {
                    "nodes": [
                        {
                            "type": "condition",
                            "branches": [{"name": "c", "condition": "${c}", "nodes": []}],
                            "default": {
                                "nodes": [{"type": "handler", "name": "H", "handlers": [role("r")]}]
                            },
                        }
                    ]
                },
            }
        ],
        [
            {
                "type": "approver",
                "name": "Legal and risk",
                "approvers": [role("legal"), {"type": "manager", "levels": 1}],
                "mode": "all",
            }
        ],
    ],
    ids=["empty", "single", "parallel-with-empty-branch", "nested-conditions", "role-countersign"],
)
def test_round_trips_of_small_and_nested_trees(nodes):
    data, with_ids = compiled({"key": "p", "name": "P", "nodes": nodes})
    assert decompile(data, LIMITS) == with_ids
    assert lint(data, LIMITS, publishing=True).valid


def _geometry(
    data: bytes,
) -> tuple[dict[str, tuple[int, int, int, int]], dict[str, list[tuple[int, int]]]]:
    root = etree.fromstring(data)
    shapes = {}
    for shape in root.iter(f"{DI}BPMNShape"):
        bounds = shape.find(f"{DC}Bounds")
        shapes[shape.get("bpmnElement")] = tuple(
            int(bounds.get(k)) for k in ("x", "y", "width", "height")
        )
    edges = {
        edge.get("bpmnElement"): [(int(p.get("x")), int(p.get("y"))) for p in edge.iter(WAYPOINT)]
        for edge in root.iter(f"{DI}BPMNEdge")
    }
    return shapes, edges


def _on_border(point: tuple[int, int], box: tuple[int, int, int, int]) -> bool:
    x, y = point
    bx, by, bw, bh = box
    inside_x, inside_y = bx <= x <= bx + bw, by <= y <= by + bh
    return (inside_y and x in (bx, bx + bw)) or (inside_x and y in (by, by + bh))


def test_the_diagram_is_a_clean_left_to_right_layout():
    data, tree = compiled(LEAVE)
    shapes, edges = _geometry(data)
    root = etree.fromstring(data)
    flows = {f.get("id"): f for f in root.iter("{*}sequenceFlow")}
    elements = {
        e.get("id")
        for e in root.find("{*}process")
        if e.get("id") and e.tag.split("}")[1] != "sequenceFlow"
    }
    assert set(shapes) == elements
    assert set(edges) == set(flows)
    boxes = list(shapes.values())
    for i, (x1, y1, w1, h1) in enumerate(boxes):  # no two shapes overlap
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
    for flow_id, points in edges.items():
        flow = flows[flow_id]
        assert len(points) >= 2
        for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
            assert ax == bx or ay == by, f"{flow_id} is not orthogonal"
        assert _on_border(points[0], shapes[flow.get("sourceRef")]), flow_id
        assert _on_border(points[-1], shapes[flow.get("targetRef")]), flow_id
        source, target = shapes[flow.get("sourceRef")], shapes[flow.get("targetRef")]
        assert source[0] < target[0], f"{flow_id} goes right to left"
    # the main line is straight: start and end sit on the same horizontal centre line
    start, end = shapes["start"], shapes["end"]
    assert start[1] + start[3] // 2 == end[1] + end[3] // 2
    # conditions carry a label
    labelled = {
        e.get("bpmnElement")
        for e in root.iter(f"{DI}BPMNEdge")
        if e.find(f"{DI}BPMNLabel") is not None
    }
    condition = tree.nodes[1]
    assert {b.id for b in condition.branches} | {condition.default.id} == labelled


def test_foreign_bpmn_is_not_a_builder_model():
    with pytest.raises(NotABuilderModel, match="not made by the approval-tree builder"):
        decompile(TEMPLATE.read_bytes(), LIMITS)
    with pytest.raises(NotABuilderModel):
        decompile((CORPUS / "A.1.0.bpmn").read_bytes(), LIMITS)
    data, _ = compiled(LEAVE)
    reshaped = data.replace(
        b'sourceRef="approver_1" targetRef="condition_1"', b'sourceRef="approver_1" targetRef="end"'
    )
    with pytest.raises(NotABuilderModel):
        decompile(reshaped, LIMITS)


@pytest.mark.parametrize(
    ("node", "words"),
    [
        ({"type": "approver", "name": "A", "approvers": []}, "at least 1"),
        ({"type": "automated", "name": "A"}, "topic or an http"),
        (
            {"type": "condition", "branches": [{"name": "b", "condition": "${a >"}], "default": {}},
            "does not compile",
        ),
        (
            {
                "type": "handler",
                "name": "H",
                "handlers": [role("x")],
                "time_limit": {"duration": "soon"},
            },
            "ISO 8601",
        ),
        (
            {
                "type": "handler",
                "name": "H",
                "handlers": [role("x")],
                "time_limit": {"duration": "P1D", "action": "reassign"},
            },
            "reassign_to",
        ),
    ],
)
async def test_invalid_trees_are_refused_with_the_field(client, node, words):
    response = await client.post(
        "/api/v1/approval-trees/compile",
        json={"key": "p", "name": "P", "nodes": [node]},
        headers=client.as_user(*DESIGNER),
    )
    assert response.status_code == 422
    problem = response.json()
    assert any(words in e["message"] for e in problem["errors"]), problem
    assert all(e["field"].startswith("nodes.0") for e in problem["errors"])


async def test_duplicate_ids_are_refused(client):
    nodes = [
        {"type": "approver", "id": "a", "name": "A", "approvers": [user("x")]},
        {"type": "handler", "id": "a", "name": "B", "handlers": [user("x")]},
    ]
    response = await client.post(
        "/api/v1/approval-trees/compile",
        json={"key": "p", "name": "P", "nodes": nodes},
        headers=client.as_user(*DESIGNER),
    )
    assert response.status_code == 422
    assert "'a'" in response.json()["errors"][0]["message"]


async def test_compile_and_decompile_endpoints(client):
    compiled_out = await client.post(
        "/api/v1/approval-trees/compile", json=LEAVE, headers=client.as_user(*DESIGNER)
    )
    assert compiled_out.status_code == 200, compiled_out.text
    body = compiled_out.json()
    assert body["lint"]["valid"] is True
    assert body["tree"]["nodes"][0]["id"] == "approver_1"
    back = await client.post(
        "/api/v1/approval-trees/decompile",
        content=body["bpmn"].encode(),
        headers=xml_headers(client),
    )
    assert back.status_code == 200, back.text
    assert back.json() == body["tree"]
    foreign = await client.post(
        "/api/v1/approval-trees/decompile",
        content=TEMPLATE.read_bytes(),
        headers=xml_headers(client),
    )
    assert foreign.status_code == 422
    assert "approval-tree builder" in foreign.json()["detail"]
    employee = await client.post(
        "/api/v1/approval-trees/compile", json=LEAVE, headers=client.as_user(*EMPLOYEE)
    )
    assert employee.status_code == 403


LEAVE_FORMS = {
    "leave": {
        "schema": {
            "type": "object",
            "required": ["days"],
            "properties": {"days": {"type": "integer", "minimum": 1}, "signers": {"type": "array"}},
        }
    },
    "review": {"schema": {"type": "object", "properties": {"comment": {"type": "string"}}}},
}


async def test_storing_a_tree_makes_a_version_and_publishing_publishes_its_bpmn(client, db):
    stored = await client.post(
        "/api/v1/approval-trees",
        json={"tree": LEAVE, "forms": LEAVE_FORMS, "change_note": "first tree", "publish": "live"},
        headers=client.as_user(*DESIGNER),
    )
    assert stored.status_code == 201, stored.text
    body = stored.json()
    assert (body["key"], body["version"], body["status"]) == ("leave-request", 1, "published")
    assert body["change_note"] == "first tree"
    [event] = await events(db, "bpm.designer.definition.published")
    bpmn = gzip.decompress(base64.b64decode(event.data["bpmn_gzip_b64"]))
    assert decompile(bpmn, LIMITS).model_dump() == body["tree"]
    assert set(event.data["forms"]) == {"form:leave", "form:review"}

    read = await client.get(
        f"/api/v1/approval-trees/{body['id']}", headers=client.as_user(*EMPLOYEE)
    )
    assert read.status_code == 200
    assert read.json() == body["tree"]

    # a second version without forms keeps the forms of the first
    changed = {**LEAVE, "name": "Leave request (v2)"}
    second = await client.post(
        "/api/v1/approval-trees", json={"tree": changed}, headers=client.as_user(*DESIGNER)
    )
    assert second.status_code == 201, second.text
    assert (second.json()["version"], second.json()["status"]) == (2, "draft")
    forms = await client.get(
        f"/api/v1/definitions/{second.json()['id']}/forms", headers=client.as_user(*EMPLOYEE)
    )
    assert [f["name"] for f in forms.json()["items"]] == ["leave", "review"]


async def test_a_tree_whose_forms_are_missing_is_stored_but_not_published(client):
    response = await client.post(
        "/api/v1/approval-trees",
        json={"tree": LEAVE, "publish": "live"},
        headers=client.as_user(*DESIGNER),
    )
    assert response.status_code == 422
    assert {e["rule"] for e in response.json()["errors"]} == {"form-reference"}


async def test_a_foreign_definition_has_no_tree(client):
    from tests.designer.conftest import upload

    created = (await upload(client, TEMPLATE.read_bytes())).json()
    response = await client.get(
        f"/api/v1/approval-trees/{created['id']}", headers=client.as_user(*EMPLOYEE)
    )
    assert response.status_code == 422


def test_a_countersign_by_roles_names_its_signers_as_rules_for_the_runtime():
    data, _ = compiled(
        {"key": "p", "name": "P", "nodes": [
            {"type": "approver", "id": "sign", "name": "Legal", "approvers": [role("legal")], "mode": "sequence"}
        ]}
    )
    task = etree.fromstring(data).find(".//{*}userTask[@id='sign']")
    assert task.get("{http://bpm-platform.org/schema/bpmn/1.0}signers") == "role:legal"
    loop = task.find("{*}multiInstanceLoopCharacteristics")
    assert loop.get("{http://camunda.org/schema/1.0/bpmn}collection") == "${sign_signers}"
    assert loop.get("isSequential") == "true"
    assert lint(data, LIMITS, publishing=True).valid


@pytest.mark.parametrize(
    ("tree", "field"),
    [
        ({"key": "p", "name": "Esc\u001b", "nodes": []}, "name"),
        ({"key": "p", "name": "P", "description": "bell \u0007", "nodes": []}, "description"),
        ({"key": "p", "name": "P", "end_name": "\u000c", "nodes": []}, "end_name"),
        ({"key": "p", "name": "P", "start": {"name": "a\u0001"}, "nodes": []}, "start.name"),
        ({"key": "p", "name": "P", "nodes": [
            {"type": "automated", "name": "Book", "http": {"url": "https://erp/x", "headers": {"X-A": "\u0002"}}}
        ]}, "nodes.0.automated.http.headers.X-A"),
    ],
)
async def test_text_the_bpmn_cannot_carry_is_refused_with_the_field(client, tree, field):
    """The tree is stored as BPMN XML, which holds no control characters but tab and line
    breaks; such text answered 500 when the XML was written."""
    for path in ("/api/v1/approval-trees/compile", "/api/v1/approval-trees"):
        response = await client.post(path, json=tree if path.endswith("compile") else {"tree": tree},
                                     headers=client.as_user(*DESIGNER))
        assert response.status_code == 422, response.text
        fields = [e["field"] for e in response.json()["errors"]]
        assert any(f.endswith(field) for f in fields) and "control character" in response.text, fields
    kept = await client.post("/api/v1/approval-trees/compile", json={"key": "p", "name": "Line\nbreak\tand tab",
                                                                       "nodes": []}, headers=client.as_user(*DESIGNER))
    assert kept.status_code == 200, kept.text
