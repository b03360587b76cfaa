"""Positions, bulk import of users from CSV, and the assignment preview."""

from __future__ import annotations

from tests.designer.conftest import ADMIN, DESIGNER, EMPLOYEE, events


async def put(client, path: str, body: dict) -> None:
    response = await client.put(f"/api/v1/org/{path}", json=body, headers=client.as_user(*ADMIN))
    assert response.status_code in (200, 201), response.text


async def base_org(client) -> None:
    await put(client, "roles/clerk", {"description": "Clerk"})
    await put(client, "roles/finance_reviewer", {"description": "Reviews"})
    await put(client, "departments/hq", {"name": "Headquarters"})
    await put(client, "departments/sales", {"name": "Sales", "parent": "hq"})
    await put(client, "departments/sales-east", {"name": "Sales East", "parent": "sales"})
    await put(client, "positions/accountant", {"title": "Accountant", "department": "hq"})


async def import_csv(client, text: str, *, dry_run: bool = False, user=ADMIN):
    return await client.post(
        "/api/v1/org/import",
        content=text.encode("utf-8"),
        params={"dry_run": str(dry_run).lower()},
        headers={**client.as_user(*user), "Content-Type": "text/csv"},
    )


CSV = """username,display_name,email,department,position,roles,manager_of,locale
ceo,Chief,ceo@example.com,hq,,,hq,en
bob,Bob,bob@example.com,sales,,clerk;finance_reviewer,sales,en
alice,Alice,alice@example.com,sales-east,accountant,clerk,,zh-CN
Bad Name,Nope,,sales,,,,en
carol,Carol,not-an-email,nowhere,ghost,unknown_role,,fr
bob,Bob again,,sales,,,,en
dave,Dave,,sales,,,mars,en
erin,Erin
"""


async def test_import_reports_rejected_rows_and_imports_the_rest(client, db):
    await base_org(client)
    response = await import_csv(client, CSV)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["dry_run"] is False
    assert report["rows"] == 8
    assert report["imported"] == {"created": 3, "updated": 0, "unchanged": 0, "managers_set": 2}
    rejected = {r["row"]: r for r in report["rejected"]}
    assert sorted(rejected) == [5, 6, 7, 8, 9]
    assert rejected[5]["errors"][0]["field"] == "username"
    carol = {e["field"] for e in rejected[6]["errors"]}
    assert carol == {"email", "locale", "department", "position", "roles[0]"}
    assert "line 3" in rejected[7]["errors"][0]["message"]
    assert rejected[8]["errors"] == [{"field": "manager_of", "message": "no department 'mars'"}]
    assert "cells" in rejected[9]["errors"][0]["message"]

    alice = (await client.get("/api/v1/org/users/alice", headers=client.as_user(*EMPLOYEE))).json()
    assert alice["department"] == "sales-east"
    assert alice["position"] == "accountant"
    assert alice["roles"] == ["clerk"]
    assert alice["locale"] == "zh-CN"
    sales = (
        await client.get("/api/v1/org/departments/sales", headers=client.as_user(*EMPLOYEE))
    ).json()
    assert sales["manager"] == "bob"

    emitted = await events(db, "bpm.designer.org.")
    users = [e.subject for e in emitted if e.type == "bpm.designer.org.user.upserted"]
    assert users == ["ceo", "bob", "alice"]
    managed = [
        e.data["manager"] for e in emitted if e.type == "bpm.designer.org.department.upserted"
    ][-2:]
    assert managed == ["ceo", "bob"]
    alice_event = next(e for e in emitted if e.subject == "alice")
    assert alice_event.data["position"] == "accountant"


async def test_a_dry_run_checks_everything_and_writes_nothing(client, db):
    await base_org(client)
    before = len(await events(db))
    report = (await import_csv(client, CSV, dry_run=True)).json()
    assert report["dry_run"] is True
    assert report["imported"]["created"] == 3
    assert len(report["rejected"]) == 5
    assert len(await events(db)) == before
    assert (
        await client.get("/api/v1/org/users/alice", headers=client.as_user(*EMPLOYEE))
    ).status_code == 404


async def test_columns_left_out_keep_what_is_stored(client):
    await base_org(client)
    await import_csv(client, CSV)
    again = await import_csv(client, "username,display_name\nbob,Robert\nalice,Alice\n")
    assert again.json()["imported"] == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "managers_set": 0,
    }
    bob = (await client.get("/api/v1/org/users/bob", headers=client.as_user(*EMPLOYEE))).json()
    assert bob["display_name"] == "Robert"
    assert bob["roles"] == ["clerk", "finance_reviewer"]
    assert bob["department"] == "sales"


async def test_a_bad_header_or_body_refuses_the_whole_file(client):
    unknown = await import_csv(client, "username,display_name,salary\nbob,Bob,1\n")
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [{"field": "header.salary", "message": "unknown column"}]
    missing = await import_csv(client, "username\nbob\n")
    assert missing.json()["errors"][0]["field"] == "header.display_name"
    latin = await client.post(
        "/api/v1/org/import",
        content="username,display_name\nbob,Bøb\n".encode("latin-1"),
        headers={**client.as_user(*ADMIN), "Content-Type": "text/csv"},
    )
    assert latin.status_code == 422
    wrong_type = await client.post(
        "/api/v1/org/import", json={"x": 1}, headers=client.as_user(*ADMIN)
    )
    assert wrong_type.status_code == 415


async def test_only_admins_import(client):
    assert (await import_csv(client, CSV, user=DESIGNER)).status_code == 403


async def test_positions_belong_to_departments_and_cannot_vanish_while_held(client):
    await base_org(client)
    await import_csv(client, CSV)
    listed = (
        await client.get(
            "/api/v1/org/positions", params={"department": "hq"}, headers=client.as_user(*EMPLOYEE)
        )
    ).json()
    assert [(p["key"], p["title"]) for p in listed["items"]] == [("accountant", "Accountant")]
    held = await client.delete("/api/v1/org/positions/accountant", headers=client.as_user(*ADMIN))
    assert held.status_code == 409
    assert "alice" in held.json()["errors"][0]["message"]
    unknown = await client.put(
        "/api/v1/org/positions/pilot",
        json={"title": "Pilot", "department": "air"},
        headers=client.as_user(*ADMIN),
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "department"


async def test_assignment_rules_resolve_from_the_organisation(client):
    await base_org(client)
    await import_csv(client, CSV)

    async def resolve(rules: str, initiator: str | None = "alice") -> dict:
        params = {"rules": rules}
        if initiator:
            params["initiator"] = initiator
        response = await client.get(
            "/api/v1/org/resolve", params=params, headers=client.as_user(*EMPLOYEE)
        )
        assert response.status_code == 200, response.text
        return response.json()

    # sales-east has no manager: manager:1 is bob (sales), manager:2 is ceo (hq)
    assert (await resolve("manager"))["users"] == ["bob"]
    assert (await resolve("manager:2"))["users"] == ["ceo"]
    assert (await resolve("manager:3"))["rules"][0]["note"] == "no manager at that level"
    # bob manages sales himself: his manager is the next one up
    assert (await resolve("manager", "bob"))["users"] == ["ceo"]
    assert (await resolve("role:clerk"))["users"] == ["alice", "bob"]
    assert (await resolve("department-role:clerk", "bob"))["users"] == ["bob"]
    assert (await resolve("department:sales-east/role:clerk"))["users"] == ["alice"]
    combined = await resolve("manager, initiator, user:ceo, field:approvers")
    assert combined["users"] == ["bob", "alice", "ceo"]
    assert combined["rules"][3]["note"] == "resolved from the form at run time"
    bad = await client.get(
        "/api/v1/org/resolve", params={"rules": "boss"}, headers=client.as_user(*EMPLOYEE)
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "rules"
