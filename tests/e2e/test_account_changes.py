"""An administrator deactivates a user: the tokens that user already holds stop opening
the API within seconds (not when they expire), through the real gateway and designer."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import eventually


async def test_a_deactivated_users_token_is_refused_within_seconds(stack, gw):
    admin = await gw.login("admin")
    user = {"display_name": "Lee Ver", "password": "leaving-soon-1", "roles": []}
    created = await gw.http.put("/api/v1/org/users/leaver", json=user, headers=admin)
    assert created.status_code == 201, created.text
    leaver = await gw.login("leaver", "leaving-soon-1")
    assert (await gw.http.get("/api/v1/tasks", headers=leaver)).status_code == 200
    await asyncio.sleep(1.1)  # tokens count whole seconds: the change comes in a later one

    gone = await gw.http.put("/api/v1/org/users/leaver", json={**user, "active": False}, headers=admin)
    assert gone.status_code == 200, gone.text

    async def refused() -> None:
        answer = await gw.http.get("/api/v1/tasks", headers=leaver)
        assert answer.status_code == 401, answer.text

    await eventually(refused, timeout=10.0)
    again = await gw.http.post("/api/v1/auth/token", json={"username": "leaver", "password": "leaving-soon-1"})
    assert again.status_code == 401
    assert (await gw.http.get("/api/v1/tasks", headers=admin)).status_code == 200, "others are not touched"
