"""`POST /internal/v1/auth/verify`: the gateway's password check."""

from __future__ import annotations

import datetime as dt

from tests.designer.conftest import ADMIN, SYSTEM

VERIFY = "/internal/v1/auth/verify"


async def make_user(client, username: str, **body) -> None:
    body.setdefault("display_name", username.title())
    response = await client.put(
        f"/api/v1/org/users/{username}", json=body, headers=client.as_user(*ADMIN)
    )
    assert response.status_code in (200, 201), response.text


async def verify(client, username: str, password: str, user: tuple[str, ...] = SYSTEM):
    return await client.post(
        VERIFY, json={"username": username, "password": password}, headers=client.as_user(*user)
    )


async def test_the_right_password_gives_the_identity(client):
    await client.put("/api/v1/org/roles/cashier", json={}, headers=client.as_user(*ADMIN))
    await client.put(
        "/api/v1/org/departments/finance", json={"name": "Finance"}, headers=client.as_user(*ADMIN)
    )
    await make_user(
        client,
        "erin",
        department="finance",
        roles=["cashier"],
        password="erin-secret-1",  # noqa: S106
    )
    before = dt.datetime.now(dt.UTC)
    response = await verify(client, "erin", "erin-secret-1")
    assert response.status_code == 200
    identity = response.json()
    checked_at = dt.datetime.fromisoformat(identity.pop("checked_at"))
    assert before <= checked_at <= dt.datetime.now(dt.UTC), "when the account was read"
    assert identity == {
        "username": "erin",
        "roles": ["cashier"],
        "department": "finance",
        "display_name": "Erin",
        "email": None,
        "locale": "en",
    }


async def test_wrong_password_unknown_user_inactive_user_and_no_password_look_the_same(client):
    await make_user(client, "erin", password="erin-secret-1")  # noqa: S106
    await make_user(client, "zed", password="zed-secret-12", active=False)  # noqa: S106
    await make_user(client, "nopass")
    answers = [
        await verify(client, "erin", "wrong-password"),
        await verify(client, "ghost", "erin-secret-1"),
        await verify(client, "zed", "zed-secret-12"),
        await verify(client, "nopass", "anything"),
        await verify(client, "nopass", ""),
        await verify(client, "x" * 500, "erin-secret-1"),
    ]
    assert [a.status_code for a in answers] == [401] * 6
    assert len({a.content for a in answers}) == 1


async def test_only_services_may_verify(client):
    await make_user(client, "erin", password="erin-secret-1")  # noqa: S106
    assert (await verify(client, "erin", "erin-secret-1", user=ADMIN)).status_code == 403
    assert (await verify(client, "erin", "erin-secret-1", user=("erin",))).status_code == 403
    anonymous = await client.post(VERIFY, json={"username": "erin", "password": "erin-secret-1"})
    assert anonymous.status_code == 401
