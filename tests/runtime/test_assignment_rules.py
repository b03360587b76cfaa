"""`bpm:assignment` rules are resolved against the organisation copy when a task is
created: every rule, the union with other dialects, and the admin fallback with a
history entry when a rule finds nobody."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from bpm_common.events.envelope import new_event
from services.runtime.deadlines.assignment import resolve_rules
from services.runtime.org.handlers import on_department_upserted, on_user_upserted

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
             xmlns:bpm="http://bpm-platform.org/schema/bpmn/1.0" targetNamespace="t">
  <process id="{key}" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <userTask id="review" name="Review" {attributes}/>
    <sequenceFlow id="f2" sourceRef="review" targetRef="done"/>
    <endEvent id="done"/>
  </process>
</definitions>"""


async def department(
    runtime, key: str, *, parent: str | None = None, manager: str | None = None
) -> None:
    """Stand in for the designer's `org.department.upserted` event."""
    envelope = new_event(
        "bpm.designer.org.department.upserted",
        key,
        {"key": key, "name": key.title(), "parent": parent, "manager": manager},
        source="designer",
        sequence=1,
    )
    async with runtime.db.transaction() as session:
        await on_department_upserted(session, envelope)


async def inactive_user(runtime, username: str, *roles: str, department: str | None = None) -> None:
    envelope = new_event(
        "bpm.designer.org.user.upserted",
        username,
        {"username": username, "roles": list(roles), "department": department, "active": False},
        source="designer",
        sequence=1,
    )
    async with runtime.db.transaction() as session:
        await on_user_upserted(session, envelope)


async def build_org(runtime) -> None:
    """hq (ceo) > sales (bob) > sales-east (no manager); hq > finance (dave)."""
    await department(runtime, "hq", manager="ceo")
    await department(runtime, "sales", parent="hq", manager="bob")
    await department(runtime, "sales-east", parent="sales")
    await department(runtime, "finance", parent="hq", manager="dave")
    await runtime.user("ceo", "executive", department="hq")
    await runtime.user("bob", "sales_manager", department="sales")
    await runtime.user("alice", "clerk", department="sales")
    await runtime.user("frank", "clerk", department="sales-east")
    await runtime.user("carol", "finance_reviewer", department="finance")
    await runtime.user("dave", "finance_director", department="finance")
    await runtime.user("erin", "cashier", "clerk", department="finance")
    await inactive_user(runtime, "gina", "clerk", department="sales")


def model(key: str, attributes: str) -> bytes:
    return BPMN.format(key=key, attributes=attributes).encode()


async def start_task(
    runtime, attributes: str, *, initiator: str = "alice", variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Publish a one-task process, start it as `initiator`; the instance and its task."""
    await runtime.publish(model("assign", attributes), "assign")
    c = runtime.client
    response = await c.post(
        "/api/v1/process-instances",
        json={"definition_key": "assign", "variables": variables or {}},
        headers=runtime.auth(initiator),
    )
    assert response.status_code == 201, response.text
    instance = response.json()
    tasks = (
        await c.get(
            f"/api/v1/tasks?scope=all&instance_id={instance['id']}",
            headers=runtime.auth("admin", "admin"),
        )
    ).json()["items"]
    [task] = tasks
    return instance, task


async def history(runtime, instance_id: str, action: str) -> list[dict[str, Any]]:
    items = (
        await runtime.client.get(
            f"/api/v1/process-instances/{instance_id}/history",
            headers=runtime.auth("admin", "admin"),
        )
    ).json()["items"]
    return [item for item in items if item["action"] == action]


@pytest.mark.parametrize(
    ("rules", "initiator", "variables", "users", "roles"),
    [
        ("user:carol", "alice", {}, ["carol"], []),
        ("role:finance_reviewer", "alice", {}, [], ["finance_reviewer"]),
        ("manager", "alice", {}, ["bob"], []),
        ("manager:2", "alice", {}, ["ceo"], []),
        ("manager", "bob", {}, ["ceo"], []),  # the initiator is the manager: one level up
        ("manager", "frank", {}, ["bob"], []),  # a department without a manager is passed
        ("department-role:clerk", "alice", {}, ["alice"], []),  # gina is inactive
        ("department-role:clerk", "erin", {}, ["erin"], []),
        ("department:finance/role:cashier", "alice", {}, ["erin"], []),
        ("field:approvers", "alice", {"approvers": ["carol", "dave"]}, ["carol", "dave"], []),
        (
            "field:form.approver",
            "alice",
            {"form": {"approver": "dave, carol"}},
            ["dave", "carol"],
            [],
        ),
        ("initiator", "frank", {}, ["frank"], []),
        ("manager, role:finance_reviewer, user:bob", "alice", {}, ["bob"], ["finance_reviewer"]),
    ],
)
async def test_each_rule_resolves_against_the_organisation(
    runtime, rules, initiator, variables, users, roles
):
    await build_org(runtime)
    instance, task = await start_task(
        runtime, f'bpm:assignment="{rules}"', initiator=initiator, variables=variables
    )
    assert task["assignee"] is None
    assert task["candidate_users"] == users
    assert task["candidate_roles"] == roles
    assert await history(runtime, instance["id"], "assignment_unresolved") == []


async def test_the_resolved_people_find_the_task_in_their_inbox(runtime):
    await build_org(runtime)
    await start_task(runtime, 'bpm:assignment="manager, department:finance/role:cashier"')
    for username in ("bob", "erin"):
        [task] = (await runtime.client.get("/api/v1/tasks", headers=runtime.auth(username))).json()[
            "items"
        ]
        assert task["node_id"] == "review"
    assert (await runtime.client.get("/api/v1/tasks", headers=runtime.auth("carol"))).json()[
        "items"
    ] == []


async def test_an_assignee_of_another_dialect_stays_the_assignee(runtime):
    await build_org(runtime)
    _, task = await start_task(
        runtime,
        'camunda:assignee="dave" camunda:candidateUsers="erin" '
        'bpm:assignment="manager, role:clerk"',
    )
    assert task["assignee"] == "dave"
    assert task["candidate_users"] == ["erin", "bob"]
    assert task["candidate_roles"] == ["clerk"]


@pytest.mark.parametrize(
    ("rules", "initiator", "reason"),
    [
        ("role:auditor", "alice", "no active user holds the role auditor"),
        ("user:gina", "alice", "the user gina is inactive or deleted"),
        ("manager:3", "alice", "no manager 3 level(s) above alice in the department tree"),
        ("manager", "nobody-known", "the initiator nobody-known belongs to no department"),
        (
            "department-role:cashier",
            "alice",
            "no active user holds the role cashier in the department sales",
        ),
        ("field:approvers", "alice", "the variable approvers is not set"),
    ],
)
async def test_a_rule_that_finds_nobody_offers_the_task_to_admin_and_says_why(
    runtime, rules, initiator, reason
):
    await build_org(runtime)
    instance, task = await start_task(runtime, f'bpm:assignment="{rules}"', initiator=initiator)
    assert (task["assignee"], task["candidate_users"], task["candidate_roles"]) == (
        None,
        [],
        ["admin"],
    )
    [entry] = await history(runtime, instance["id"], "assignment_unresolved")
    assert entry["task_id"] == task["id"]
    assert entry["details"] == {"rule": rules, "reason": reason, "offered_to_role": "admin"}
    [offered] = (
        await runtime.client.get("/api/v1/tasks", headers=runtime.auth("admin", "admin"))
    ).json()["items"]
    assert offered["id"] == task["id"]


async def test_one_rule_finding_nobody_among_others_is_recorded_without_the_fallback(runtime):
    await build_org(runtime)
    instance, task = await start_task(runtime, 'bpm:assignment="user:carol, role:auditor"')
    assert (task["candidate_users"], task["candidate_roles"]) == (["carol"], [])
    [entry] = await history(runtime, instance["id"], "assignment_unresolved")
    assert entry["details"] == {
        "rule": "role:auditor",
        "reason": "no active user holds the role auditor",
    }


async def test_a_rule_list_costs_at_most_two_queries(runtime):
    await build_org(runtime)
    rules = [
        "user:carol",
        "role:clerk",
        "manager",
        "manager:2",
        "department-role:clerk",
        "department:finance/role:cashier",
        "field:approvers",
        "initiator",
        "role:auditor",
    ]
    statements: list[str] = []
    async with runtime.db.transaction() as session:
        connection = (await session.connection()).sync_connection

        def count(conn, cursor, statement, *args):  # noqa: ANN001 - SQLAlchemy's listener signature
            statements.append(statement)

        event.listen(connection, "before_cursor_execute", count)
        try:
            found = await resolve_rules(
                session, rules, initiator="alice", variables={"approvers": "dave"}
            )
        finally:
            event.remove(connection, "before_cursor_execute", count)
    assert len(statements) == 2
    assert found.users == ["carol", "bob", "ceo", "alice", "erin", "dave"]
    assert found.roles == ["clerk"]
    assert found.unresolved == [("role:auditor", "no active user holds the role auditor")]


async def test_copies_expand_roles_to_their_holders(runtime):
    await build_org(runtime)
    async with runtime.db.transaction() as session:
        found = await resolve_rules(
            session,
            ["role:clerk", "user:carol"],
            initiator="alice",
            variables={},
            expand_roles=True,
        )
    assert found.users == ["alice", "erin", "frank", "carol"]
    assert found.roles == []
