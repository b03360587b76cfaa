"""Demo seeding: the demo organisation and process, added once however often seeding runs."""

from __future__ import annotations

import pytest

from services.designer.seeding.demo import seed_demo, seed_on_startup
from tests.designer.conftest import (
    ADMIN,
    EMPLOYEE,
    SYSTEM,
    definition_count,
    designer_settings,
    events,
)

DEMO_USERS = ["admin", "alice", "bob", "carol", "dave", "designer", "erin"]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"seed_demo": True, "demo_password": "demo-pass"}


async def login(client, username: str, password: str):
    return await client.post(
        "/internal/v1/auth/verify",
        json={"username": username, "password": password},
        headers=client.as_user(*SYSTEM),
    )


async def test_the_demo_organisation_and_process_are_seeded_on_start(client, db):
    reader = client.as_user(*EMPLOYEE)
    users = (await client.get("/api/v1/org/users", headers=reader)).json()["items"]
    assert [u["username"] for u in users] == DEMO_USERS
    by_name = {u["username"]: u for u in users}
    assert by_name["alice"]["department"] == "sales"
    assert by_name["carol"]["roles"] == ["finance_reviewer"]
    assert by_name["carol"]["locale"] == "zh-CN"
    assert by_name["dave"]["roles"] == ["finance_director"]
    assert by_name["erin"]["roles"] == ["cashier"]
    assert by_name["admin"]["roles"] == ["admin"]
    assert by_name["designer"]["roles"] == ["process_designer"]
    assert by_name["bob"]["email"] == "bob@demo.local"
    departments = (await client.get("/api/v1/org/departments", headers=reader)).json()["items"]
    assert {(d["key"], d["manager"]) for d in departments} == {
        ("sales", "bob"),
        ("finance", "dave"),
    }

    for username in DEMO_USERS:
        assert (await login(client, username, "demo-pass")).status_code == 200, username
    assert (await login(client, "carol", "demo")).status_code == 401
    assert (await login(client, "dave", "demo-pass")).json()["roles"] == ["finance_director"]

    listed = (
        await client.get(
            "/api/v1/definitions", params={"key": "expense-reimbursement"}, headers=reader
        )
    ).json()
    [demo] = listed["items"]
    assert (demo["version"], demo["status"], demo["live"]) == (1, "published", True)
    published = await events(db, "bpm.designer.definition.published")
    assert [e.data["key"] for e in published] == ["expense-reimbursement"]


async def test_seeding_again_adds_nothing(client, db):
    before = len(await events(db))
    ctx = client.app.state.ctx
    await seed_on_startup(ctx)
    async with ctx.db.transaction() as session:
        result = await seed_demo(session, ctx.events, ctx.settings)
    assert (result.departments, result.users, result.passwords, result.processes) == (
        [],
        [],
        [],
        [],
    )
    assert len(await events(db)) == before
    assert await definition_count(db) == 1


async def test_seeding_keeps_what_an_administrator_changed(client, db):
    admin = client.as_user(*ADMIN)
    await client.put(
        "/api/v1/org/departments/sales",
        json={"name": "Global sales", "manager": "alice"},
        headers=admin,
    )
    await client.put(
        "/api/v1/org/users/erin/password", json={"password": "erins-own-pass"}, headers=admin
    )
    await client.put("/api/v1/org/users/designer", json={"display_name": "Dee"}, headers=admin)
    await client.delete("/api/v1/org/users/designer", headers=admin)

    ctx = client.app.state.ctx
    async with ctx.db.transaction() as session:
        result = await seed_demo(session, ctx.events, ctx.settings)
    assert (result.departments, result.users, result.passwords) == ([], [], [])
    sales = (await client.get("/api/v1/org/departments/sales", headers=admin)).json()
    assert (sales["name"], sales["manager"]) == ("Global sales", "alice")
    assert (await login(client, "erin", "erins-own-pass")).status_code == 200
    assert (await client.get("/api/v1/org/users/designer", headers=admin)).status_code == 404


class TestWithoutTheFlag:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {}

    async def test_nothing_is_seeded_and_nobody_has_a_password(self, client, db):
        assert await events(db) == []
        users = (await client.get("/api/v1/org/users", headers=client.as_user(*EMPLOYEE))).json()
        assert users["items"] == []
        assert (await login(client, "admin", "demo")).status_code == 401
        assert await definition_count(db) == 0

    async def test_seeding_later_gives_a_password_only_to_users_without_one(
        self, client, db, pg_url
    ):
        admin = client.as_user(*ADMIN)
        await client.put(
            "/api/v1/org/users/alice", json={"display_name": "Alice A."}, headers=admin
        )
        await client.put(
            "/api/v1/org/users/bob",
            json={"display_name": "Bob", "password": "bobs-own-pass"},
            headers=admin,
        )
        ctx = client.app.state.ctx
        settings = designer_settings(pg_url, seed_demo=True, demo_password="demo-pass")  # noqa: S106
        async with ctx.db.transaction() as session:
            result = await seed_demo(session, ctx.events, settings)
        assert "alice" not in result.users and "bob" not in result.users
        assert "alice" in result.passwords and "bob" not in result.passwords
        assert (await login(client, "alice", "demo-pass")).status_code == 200
        assert (await login(client, "bob", "demo-pass")).status_code == 401
        assert (await login(client, "bob", "bobs-own-pass")).status_code == 200
        alice = (await client.get("/api/v1/org/users/alice", headers=admin)).json()
        assert (alice["display_name"], alice["department"]) == ("Alice A.", None)
