"""`GET /internal/v1/auth/revocations`: which users' earlier tokens no longer hold, for
the gateway. A deactivation, a deletion, a change of roles, department or password
counts; a change of anything a token does not say (a display name) does not."""

from __future__ import annotations

import datetime as dt

from tests.designer.conftest import ADMIN, SYSTEM
from tests.designer.test_auth_verify import make_user

REVOCATIONS = "/internal/v1/auth/revocations"


async def _revoked(client, since: dt.datetime) -> dict[str, str]:
    response = await client.get(REVOCATIONS, params={"since": since.isoformat()}, headers=client.as_user(*SYSTEM))
    assert response.status_code == 200, response.text
    body = response.json()
    as_of = dt.datetime.fromisoformat(body["as_of"])
    assert abs(as_of - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=30), "the database's time now"
    return {item["username"]: item["valid_after"] for item in body["items"]}


async def test_changes_that_void_tokens_are_listed_and_others_are_not(client):
    await client.put("/api/v1/org/roles/cashier", json={}, headers=client.as_user(*ADMIN))
    await client.put("/api/v1/org/departments/finance", json={"name": "Finance"}, headers=client.as_user(*ADMIN))
    for name in ("renamed", "leaver", "promoted", "moved", "gone", "forgetful"):
        await make_user(client, name, password=f"{name}-secret-1")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert await _revoked(client, since) == {}, "creating users voids nobody's tokens"

    await make_user(client, "renamed", display_name="Someone Else")
    await make_user(client, "leaver", active=False)
    await make_user(client, "promoted", roles=["cashier"])
    await make_user(client, "moved", department="finance")
    assert (await client.delete("/api/v1/org/users/gone", headers=client.as_user(*ADMIN))).status_code == 204
    changed = await client.put(
        "/api/v1/org/users/forgetful/password", json={"password": "a-new-secret-22"}, headers=client.as_user(*ADMIN)
    )
    assert changed.status_code == 204, changed.text

    revoked = await _revoked(client, since)
    assert set(revoked) == {"leaver", "promoted", "moved", "gone", "forgetful"}
    assert all(dt.datetime.fromisoformat(moment) > since for moment in revoked.values())
    assert await _revoked(client, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)) == {}


async def test_only_services_ask_and_the_moment_needs_a_time_zone(client):
    since = {"since": "2026-12-07T09:00:00+00:00"}
    assert (await client.get(REVOCATIONS, params=since, headers=client.as_user(*ADMIN))).status_code == 403
    assert (await client.get(REVOCATIONS, params=since)).status_code == 401
    naive = await client.get(REVOCATIONS, params={"since": "2026-12-07T09:00:00"}, headers=client.as_user(*SYSTEM))
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "since"
    missing = await client.get(REVOCATIONS, headers=client.as_user(*SYSTEM))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "since"
