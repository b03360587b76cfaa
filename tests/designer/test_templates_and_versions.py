"""Templates installed in one call, the structural diff of versions, and rollback."""

from __future__ import annotations

import pytest

from services.designer.definitions.lint import lint
from services.designer.definitions.parsing import Limits
from services.designer.templates.catalogue import NAMES, load
from services.designer.trees.decompiler import decompile
from tests.designer.conftest import DESIGNER, EMPLOYEE, TEMPLATE, events, upload

LIMITS = Limits(max_bytes=5 * 1024 * 1024, max_depth=100)


@pytest.mark.parametrize("name", NAMES)
def test_every_template_passes_lint_and_has_forms_time_limits_and_assignments(name):
    template = load(name)
    report = lint(template.bpmn, LIMITS, publishing=True)
    assert report.valid and report.warnings == [], report.to_dict()
    assert template.forms
    assert b"bpm:timeLimit=" in template.bpmn
    assert b"bpm:assignment=" in template.bpmn or name == "expense-reimbursement"
    if name != "expense-reimbursement":
        assert decompile(template.bpmn, LIMITS).key == template.key  # builder-made: opens as a tree


async def test_templates_are_listed(client):
    response = await client.get("/api/v1/templates", headers=client.as_user(*EMPLOYEE))
    assert response.status_code == 200
    items = response.json()["items"]
    assert [t["name"] for t in items] == list(NAMES)
    expense = items[0]
    assert expense["key"] == "expense-reimbursement"
    assert expense["forms"] == ["expense"]
    assert expense["dictionaries"] == ["expense_types"]
    assert expense["title"]["zh-CN"] == "费用报销"


@pytest.mark.parametrize("name", NAMES)
async def test_each_template_installs_and_publishes_with_its_forms(client, db, name):
    response = await client.post(
        f"/api/v1/templates/{name}/install",
        json={"publish": True},
        headers=client.as_user(*DESIGNER),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "published"
    assert body["key"] == load(name).key
    [event] = await events(db, "bpm.designer.definition.published")
    forms = event.data["forms"]
    assert set(forms) == {f"form:{f}" for f in load(name).forms}
    for form in forms.values():  # dictionaries are resolved for the runtime
        for prop in form["schema"].get("properties", {}).values():
            if "x-dictionary" in prop:
                assert prop["enum"] and prop["x-enum-labels"]


async def test_installing_as_a_draft_and_again_makes_versions(client):
    first = await client.post(
        "/api/v1/templates/purchase-request/install", headers=client.as_user(*DESIGNER)
    )
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["version"]) == ("draft", 1)
    assert first.json()["dictionaries_created"] == ["product_categories"]
    second = await client.post(
        "/api/v1/templates/purchase-request/install", headers=client.as_user(*DESIGNER)
    )
    assert second.json()["version"] == 2
    assert second.json()["dictionaries_created"] == []
    missing = await client.post("/api/v1/templates/nope/install", headers=client.as_user(*DESIGNER))
    assert missing.status_code == 404
    employee = await client.post(
        "/api/v1/templates/purchase-request/install", headers=client.as_user(*EMPLOYEE)
    )
    assert employee.status_code == 403


async def edit(client, definition_id: str, *operations: dict, note: str = "changed") -> dict:
    response = await client.post(
        f"/api/v1/definitions/{definition_id}/edits",
        json={"operations": list(operations), "change_note": note},
        headers=client.as_user(*DESIGNER),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def diff(client, definition_id: str, against: str) -> dict:
    response = await client.get(
        f"/api/v1/definitions/{definition_id}/diff",
        params={"against": against},
        headers=client.as_user(*EMPLOYEE),
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_diff_names_what_changed_between_versions(client):
    v1 = (await upload(client, TEMPLATE.read_bytes())).json()
    assert (await diff(client, v1["id"], v1["id"]))["identical"] is True
    v2 = await edit(
        client,
        v1["id"],
        {"op": "rename", "element_id": "Task_FinanceReview", "name": "Finance check"},
        {"op": "assignment", "element_id": "Task_CashierPayment", "rules": "role:cashier, manager"},
        {
            "op": "time_limit",
            "element_id": "Task_DepartmentReview",
            "time_limit": "PT4H",
            "timeout_action": "escalate",
        },
        {"op": "raci", "element_id": "Task_FinanceReview", "informed": "role:risk"},
        {"op": "form", "element_id": "Task_DirectorApproval", "form": "director"},
    )
    changes = await diff(client, v2["id"], v1["id"])
    assert changes["identical"] is False
    assert (changes["base"]["version"], changes["target"]["version"]) == (1, 2)
    nodes = {c["id"]: c for c in changes["nodes"]["changed"]}
    assert set(nodes) == {"Task_FinanceReview", "Task_DirectorApproval"}
    assert nodes["Task_FinanceReview"]["before"]["name"] == "Finance review"
    assert nodes["Task_FinanceReview"]["after"]["name"] == "Finance check"
    assert nodes["Task_DirectorApproval"]["after"]["form"] == "form:director"
    assignments = {c["id"]: c for c in changes["assignments"]["changed"]}
    assert assignments["Task_CashierPayment"]["after"]["bpm:assignment"] == "role:cashier, manager"
    assert assignments["Task_FinanceReview"]["after"]["raci.informed"] == "role:risk"
    limits = {c["id"]: c for c in changes["time_limits"]["changed"]}
    assert limits["Task_DepartmentReview"]["before"]["bpm:timeLimit"] == "P1D"
    assert limits["Task_DepartmentReview"]["after"]["bpm:timeLimit"] == "PT4H"
    assert changes["flows"] == {"added": [], "removed": [], "changed": []}
    assert changes["conditions"] == {"added": [], "removed": [], "changed": []}


async def test_the_diff_sees_flows_conditions_and_forms(client):
    forms = {
        "expense": {"schema": {"type": "object", "properties": {"amount": {"type": "number"}}}}
    }
    tree = {
        "key": "expense-reimbursement",
        "name": "Expense",
        "start": {"form": "expense"},
        "nodes": [
            {
                "type": "condition",
                "id": "size",
                "branches": [
                    {"id": "big", "name": "big", "condition": "${amount > 5000}", "nodes": []}
                ],
                "default": {"id": "small"},
            }
        ],
    }
    v1 = await client.post(
        "/api/v1/approval-trees",
        json={"tree": tree, "forms": forms},
        headers=client.as_user(*DESIGNER),
    )
    tree["nodes"][0]["branches"][0]["condition"] = "${amount > 8000}"
    tree["nodes"].append(
        {
            "type": "handler",
            "id": "pay",
            "name": "Pay",
            "handlers": [{"type": "role", "role": "cashier"}],
        }
    )
    forms["expense"]["schema"]["required"] = ["amount"]
    v2 = await client.post(
        "/api/v1/approval-trees",
        json={"tree": tree, "forms": forms},
        headers=client.as_user(*DESIGNER),
    )
    changes = await diff(client, v2.json()["id"], v1.json()["id"])
    assert [c["id"] for c in changes["nodes"]["added"]] == ["pay"]
    assert changes["conditions"]["changed"] == [
        {"id": "big", "before": "${amount > 5000}", "after": "${amount > 8000}"}
    ]
    assert {f["id"] for f in changes["flows"]["added"]} == {"flow_size_join_pay", "flow_pay_end"}
    assert [f["id"] for f in changes["flows"]["removed"]] == ["flow_size_join_end"]
    assert [f["id"] for f in changes["forms"]["changed"]] == ["expense"]
    assert changes["assignments"]["added"][0]["id"] == "pay"


async def test_rollback_republishes_an_earlier_version(client, db):
    v1 = (
        await client.post(
            "/api/v1/templates/order-handling/install",
            json={"publish": True},
            headers=client.as_user(*DESIGNER),
        )
    ).json()
    v2 = (
        await client.post(
            "/api/v1/templates/order-handling/install",
            json={"publish": True},
            headers=client.as_user(*DESIGNER),
        )
    ).json()
    back = await client.post(
        f"/api/v1/definitions/{v1['id']}/publish", json={}, headers=client.as_user(*DESIGNER)
    )
    assert back.status_code == 200
    listed = (
        await client.get(
            "/api/v1/definitions",
            params={"key": "order-handling"},
            headers=client.as_user(*EMPLOYEE),
        )
    ).json()["items"]
    live = {i["version"]: i["live"] for i in listed}
    assert live == {1: True, 2: False}
    published = await events(db, "bpm.designer.definition.published")
    assert [e.data["version"] for e in published] == [1, 2, 1]
    assert v2["version"] == 2
