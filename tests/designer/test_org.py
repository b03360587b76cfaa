"""The organisation model: departments, users and roles, their validation and their events."""

from __future__ import annotations

from tests.designer.conftest import ADMIN, EMPLOYEE, events


async def put(client, path: str, body: dict, user: tuple[str, ...] = ADMIN):
    return await client.put(f"/api/v1/org/{path}", json=body, headers=client.as_user(*user))


async def get(client, path: str, **params):
    return await client.get(f"/api/v1/org/{path}", params=params, headers=client.as_user(*EMPLOYEE))


async def delete(client, path: str, user: tuple[str, ...] = ADMIN):
    return await client.delete(f"/api/v1/org/{path}", headers=client.as_user(*user))


async def test_departments_are_created_replaced_listed_and_deleted_with_events(client, db):
    created = await put(client, "departments/sales", {"name": "Sales"})
    assert created.status_code == 201, created.text
    assert created.json() == {
        **created.json(),
        "key": "sales",
        "name": "Sales",
        "parent": None,
        "manager": None,
    }
    emea = await put(client, "departments/sales-emea", {"name": "Sales EMEA", "parent": "sales"})
    assert emea.status_code == 201
    renamed = await put(client, "departments/sales", {"name": "Sales & Marketing"})
    assert renamed.status_code == 200
    unchanged = await put(client, "departments/sales", {"name": "Sales & Marketing"})
    assert unchanged.status_code == 200

    page = (await get(client, "departments", limit=1)).json()
    assert [d["key"] for d in page["items"]] == ["sales"]
    rest = (await get(client, "departments", limit=1, cursor=page["next_cursor"])).json()
    assert [d["key"] for d in rest["items"]] == ["sales-emea"]
    assert (await get(client, "departments/sales-emea")).json()["parent"] == "sales"

    assert (await delete(client, "departments/sales-emea")).status_code == 204
    assert (await get(client, "departments/sales-emea")).status_code == 404
    assert (await delete(client, "departments/sales-emea")).status_code == 404

    emitted = [(e.type.rsplit(".", 1)[-1], e.subject, e.sequence, e.data) for e in await events(db)]
    assert emitted == [
        (
            "upserted",
            "sales",
            1,
            {"key": "sales", "name": "Sales", "parent": None, "manager": None},
        ),
        (
            "upserted",
            "sales-emea",
            1,
            {"key": "sales-emea", "name": "Sales EMEA", "parent": "sales", "manager": None},
        ),
        (
            "upserted",
            "sales",
            2,
            {"key": "sales", "name": "Sales & Marketing", "parent": None, "manager": None},
        ),
        ("deleted", "sales-emea", 2, {"key": "sales-emea"}),
    ]
    assert all(e.type.startswith("bpm.designer.org.department.") for e in await events(db))


async def test_a_recreated_department_continues_its_sequence(client, db):
    await put(client, "departments/ops", {"name": "Ops"})
    await delete(client, "departments/ops")
    again = await put(client, "departments/ops", {"name": "Operations"})
    assert again.status_code == 201
    assert [e.sequence for e in await events(db)] == [1, 2, 3]


async def test_department_validation_names_the_field(client, db):
    bad_key = await put(client, "departments/Bad Key", {"name": "x"})
    assert bad_key.status_code == 422
    assert bad_key.json()["errors"][0]["field"] == "key"
    unknown_parent = await put(client, "departments/a", {"name": "A", "parent": "nowhere"})
    assert unknown_parent.status_code == 422
    assert unknown_parent.json()["errors"] == [
        {"field": "parent", "message": "no department 'nowhere'"}
    ]
    unknown_manager = await put(client, "departments/a", {"name": "A", "manager": "ghost"})
    assert unknown_manager.status_code == 422
    assert unknown_manager.json()["errors"][0]["field"] == "manager"
    missing_name = await put(client, "departments/a", {})
    assert missing_name.status_code == 422
    assert missing_name.json()["errors"][0]["field"] == "name"

    await put(client, "departments/top", {"name": "Top"})
    await put(client, "departments/mid", {"name": "Mid", "parent": "top"})
    cycle = await put(client, "departments/top", {"name": "Top", "parent": "mid"})
    assert cycle.status_code == 422
    assert cycle.json()["errors"][0]["field"] == "parent"
    assert [e.subject for e in await events(db)] == ["top", "mid"]


async def test_a_department_with_members_or_children_is_not_deleted(client):
    await put(client, "departments/finance", {"name": "Finance"})
    await put(client, "users/erin", {"display_name": "Erin", "department": "finance"})
    refused = await delete(client, "departments/finance")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "users"


async def test_users_are_created_replaced_and_deleted_with_events(client, db):
    await put(client, "roles/cashier", {"description": "Pays"})
    await put(client, "departments/finance", {"name": "Finance"})
    body = {
        "display_name": "Erin",
        "email": "erin@example.com",
        "department": "finance",
        "roles": ["cashier"],
        "locale": "zh-CN",
        "password": "correct horse battery",
    }
    created = await put(client, "users/erin", body)
    assert created.status_code == 201, created.text
    user = created.json()
    assert "password" not in user and "password_hash" not in user
    assert user["has_password"] is True
    assert {k: user[k] for k in ("username", "department", "roles", "locale", "active")} == {
        "username": "erin",
        "department": "finance",
        "roles": ["cashier"],
        "locale": "zh-CN",
        "active": True,
    }

    replaced = await put(
        client, "users/erin", {"display_name": "Erin Wu", "roles": [], "active": False}
    )
    assert replaced.status_code == 200
    assert replaced.json()["department"] is None
    assert replaced.json()["has_password"] is True  # kept: the body set none

    assert (await get(client, "users/erin")).json()["display_name"] == "Erin Wu"
    assert (await delete(client, "users/erin")).status_code == 204
    assert (await get(client, "users/erin")).status_code == 404

    emitted = [e for e in await events(db) if e.type.startswith("bpm.designer.org.user.")]
    assert [(e.type.rsplit(".", 1)[-1], e.sequence) for e in emitted] == [
        ("upserted", 1),
        ("upserted", 2),
        ("deleted", 3),
    ]
    assert emitted[0].subject == "erin"
    assert emitted[0].data == {
        "username": "erin",
        "display_name": "Erin",
        "email": "erin@example.com",
        "department": "finance",
        "position": None,
        "roles": ["cashier"],
        "locale": "zh-CN",
        "active": True,
    }
    assert emitted[2].data == {"username": "erin"}
    assert all("password" not in e.to_json() for e in emitted)


async def test_user_lists_filter_and_page(client):
    await put(client, "roles/cashier", {})
    await put(client, "departments/finance", {"name": "Finance"})
    await put(client, "users/carol", {"display_name": "Carol", "department": "finance"})
    await put(
        client,
        "users/erin",
        {"display_name": "Erin", "department": "finance", "roles": ["cashier"]},
    )
    await put(client, "users/zed", {"display_name": "Zed", "active": False})

    in_finance = (await get(client, "users", department="finance")).json()
    assert [u["username"] for u in in_finance["items"]] == ["carol", "erin"]
    cashiers = (await get(client, "users", role="cashier")).json()
    assert [u["username"] for u in cashiers["items"]] == ["erin"]
    inactive = (await get(client, "users", active="false")).json()
    assert [u["username"] for u in inactive["items"]] == ["zed"]
    first = (await get(client, "users", limit=2)).json()
    second = (await get(client, "users", limit=2, cursor=first["next_cursor"])).json()
    assert [u["username"] for u in first["items"] + second["items"]] == ["carol", "erin", "zed"]


async def test_user_validation_names_the_field(client, db):
    bad_name = await put(client, "users/Alice!", {"display_name": "A"})
    assert bad_name.status_code == 422
    assert bad_name.json()["errors"][0]["field"] == "username"
    unknown_department = await put(
        client, "users/alice", {"display_name": "A", "department": "nowhere"}
    )
    assert unknown_department.status_code == 422
    assert unknown_department.json()["errors"][0]["field"] == "department"
    unknown_role = await put(
        client, "users/alice", {"display_name": "A", "roles": ["admin", "wizard"]}
    )
    assert unknown_role.status_code == 422
    assert unknown_role.json()["errors"] == [{"field": "roles[1]", "message": "no role 'wizard'"}]
    system = await put(client, "users/alice", {"display_name": "A", "roles": ["system"]})
    assert system.status_code == 422
    bad_locale = await put(client, "users/alice", {"display_name": "A", "locale": "fr"})
    assert bad_locale.status_code == 422
    assert bad_locale.json()["errors"][0]["field"] == "locale"
    bad_email = await put(client, "users/alice", {"display_name": "A", "email": "not-an-email"})
    assert bad_email.status_code == 422
    short_password = await put(client, "users/alice", {"display_name": "A", "password": "short"})
    assert short_password.status_code == 422
    assert await events(db) == []


async def test_a_department_manager_is_not_deleted(client):
    await put(client, "users/bob", {"display_name": "Bob"})
    await put(client, "departments/sales", {"name": "Sales", "manager": "bob"})
    refused = await delete(client, "users/bob")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "departments"


async def test_roles(client):
    created = await put(client, "roles/finance_reviewer", {"description": "Reviews claims"})
    assert created.status_code == 201
    updated = await put(client, "roles/finance_reviewer", {"description": "Reviews expense claims"})
    assert updated.status_code == 200
    roles = (await get(client, "roles")).json()
    assert [(r["name"], r["builtin"]) for r in roles["items"]] == [
        ("admin", True),
        ("finance_reviewer", False),
        ("process_designer", True),
    ]
    assert (await get(client, "roles/finance_reviewer")).json()[
        "description"
    ] == "Reviews expense claims"
    assert (await get(client, "roles/admin")).json()["builtin"] is True
    assert (await get(client, "roles/nope")).status_code == 404
    assert (await put(client, "roles/system", {})).status_code == 422
    assert (await put(client, "roles/Bad Role", {})).status_code == 422


async def test_writes_need_admin_and_reads_a_token(client):
    assert (await put(client, "departments/x", {"name": "X"}, user=EMPLOYEE)).status_code == 403
    assert (
        await put(client, "users/x", {"display_name": "X"}, user=("dora", "process_designer"))
    ).status_code == 403
    assert (await put(client, "roles/x", {}, user=("svc", "system"))).status_code == 403
    assert (await delete(client, "users/x", user=EMPLOYEE)).status_code == 403
    assert (await client.get("/api/v1/org/users")).status_code == 401
    assert (await get(client, "users")).status_code == 200


async def test_passwords_are_changed_by_their_owner_or_an_admin(client):
    await put(client, "users/alice", {"display_name": "Alice", "password": "first-password"})
    await put(client, "users/bob", {"display_name": "Bob"})
    alice = client.as_user("alice")

    def change(body: dict, user: dict, username: str = "alice"):
        return client.put(f"/api/v1/org/users/{username}/password", json=body, headers=user)

    assert (await change({"password": "second-password"}, alice)).status_code == 422
    wrong = await change({"password": "second-password", "current_password": "guess"}, alice)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "current_password"
    ok = await change({"password": "second-password", "current_password": "first-password"}, alice)
    assert ok.status_code == 204
    assert (await change({"password": "hijacked-pass"}, alice, "bob")).status_code == 403
    assert (
        await change({"password": "set-by-admin"}, client.as_user(*ADMIN), "bob")
    ).status_code == 204
    assert (await get(client, "users/bob")).json()["has_password"] is True
    assert (
        await change({"password": "whatever-long"}, client.as_user(*ADMIN), "ghost")
    ).status_code == 404
