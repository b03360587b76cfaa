"""Token revocation against a user about to be locked out: a token made just before the
change, an open event stream, the case of a name, a change that commits late, odd issue
times, internal endpoints, CSV imports and recreated users."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from types import SimpleNamespace

import httpx
import jwt
import pytest
from pydantic import SecretStr

from bpm_common.auth import Principal, TokenIssuer
from bpm_common.db import Database
from bpm_common.errors import Unauthorized
from bpm_common.events.memory import MemoryBroker
from bpm_common.settings import CommonSettings
from bpm_common.testing.plugin import TEST_JWT_SECRET, service_client, service_database
from gateway import auth as gateway_auth
from gateway.auth import Revocations
from services.designer.app import definition as designer_definition
from services.designer.main import create_app as designer_app
from services.designer.org import service as org_service
from services.designer.org.schemas import UserIn
from tests.designer.conftest import ADMIN, SYSTEM, TEST_SCRYPT_N, designer_settings
from tests.designer.test_auth_verify import make_user

REVOCATIONS = "/internal/v1/auth/revocations"


def _token(sub: str, iat: float, *roles: str) -> dict[str, str]:
    """A built-in-issuer token with a chosen issue time (what a token issued then looks like)."""
    claims = {"iss": "bpm-platform", "aud": "bpm-platform", "sub": sub, "roles": list(roles),
              "iat": int(iat), "exp": int(time.time()) + 600}
    return {"Authorization": "Bearer " + jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")}


async def _until(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "the gateway did not take the revocation in time"
        await asyncio.sleep(0.05)


async def test_a_token_issued_before_the_change_in_the_same_second_is_refused(start_gateway, standins):
    """A token obtained *before* a deactivation or a password reset, in the same second,
    must not keep working for its lifetime: someone about to be locked out who logs in
    in a loop would keep one. Issue times keep fractions of a second."""
    designer = standins["designer"]
    async with start_gateway(revocation_poll_seconds=0.1) as url, httpx.AsyncClient(base_url=url) as http:
        while time.time() % 1 > 0.2:  # early in a second, so that login and change share it  # noqa: ASYNC110 - waiting for the clock
            await asyncio.sleep(0.01)
        login = await http.post("/api/v1/auth/token", json={"username": "alice", "password": "alice-pw"})
        stolen = {"Authorization": f"Bearer {login.json()['access_token']}"}
        changed = dt.datetime.now(dt.UTC)  # the deactivation, after the login, same second
        witness = _token("designer", time.time() - 30, "process_designer")  # proves the poll was applied
        designer.revocations = [
            {"username": "alice", "valid_after": changed.isoformat()},
            {"username": "designer", "valid_after": changed.isoformat()},
        ]
        try:
            await _until(lambda: _status(http, witness, 401))
            answer = await http.get("/api/v1/definitions", headers=stolen)
            assert answer.status_code == 401, "a token issued before the change still opens the API"
        finally:
            designer.revocations = []


async def _status(http: httpx.AsyncClient, headers: dict[str, str], wanted: int) -> bool:
    return (await http.get("/api/v1/definitions", headers=headers)).status_code == wanted


async def test_an_open_event_stream_ends_when_its_token_is_revoked(start_gateway, standins):
    """An event stream opened before a deactivation stops delivering (notifications, task
    details) once the revocation is known, not only when it closes."""
    designer, notifier = standins["designer"], standins["notifier"]
    notifier.release.clear()
    old = _token("alice", time.time() - 30, "employee")
    try:
        async with (
            start_gateway(revocation_poll_seconds=0.1) as url,
            httpx.AsyncClient(base_url=url, timeout=5.0) as http,
            http.stream("GET", "/api/v1/notifications/stream", headers=old) as response,
        ):
            lines = response.aiter_lines()
            assert [await anext(lines), await anext(lines)] == ["event: hello", "data: first"]
            designer.revocations = [{"username": "alice", "valid_after": dt.datetime.now(dt.UTC).isoformat()}]
            await _until(lambda: _status(http, old, 401))  # the gateway refuses the token now
            notifier.release.set()
            try:
                rest = await asyncio.wait_for(_rest(lines), 3.0)
            except (httpx.HTTPError, TimeoutError):
                rest = []
            assert "data: second" not in rest, "the revoked user's stream still delivers events"
    finally:
        designer.revocations = []
        notifier.release.clear()


async def _rest(lines) -> list[str]:
    return [line async for line in lines if line]


def test_the_check_is_not_fooled_by_the_case_of_the_user_name():
    """The designer keeps user names lower case and logs `Alice` in as `alice`; an identity
    provider's token may say `Alice`: it is refused with `alice`'s revocation."""
    revocations = Revocations()
    now = dt.datetime.now(dt.UTC)
    revocations.update([{"username": "alice", "valid_after": now.isoformat()}], now)
    with pytest.raises(Unauthorized):
        revocations.check(Principal("alice", claims={"iat": now.timestamp() - 60}))
    with pytest.raises(Unauthorized):
        revocations.check(Principal("Alice", claims={"iat": now.timestamp() - 60}))


async def test_a_change_committed_after_the_overlap_is_not_lost(pg_url, run_prefix, token_for, monkeypatch):
    """`tokens_valid_after` is the designer's clock when the change is *made*; a change
    whose transaction commits long after (a CSV import of thousands of rows is one
    transaction; a slow lock wait) must still be answered: the designer's `as_of` stays
    before the oldest open writing transaction. Shown with the gateway's overlap shrunk to
    1 s, with the real designer and gateway code."""
    monkeypatch.setattr(gateway_auth, "REVOCATION_OVERLAP", dt.timedelta(seconds=1))
    sdb = await service_database(designer_definition(), pg_url, f"{run_prefix}_revocations")
    database = Database(sdb.url, application_name="revocations-test")
    name = "leaver-" + uuid.uuid4().hex[:10]
    issued = time.time() - 30
    try:
        app = designer_app(designer_settings(pg_url), db=database, broker=MemoryBroker())
        async with service_client(app, token_for) as api:
            await make_user(api, name)
            upstream = SimpleNamespace(client=api, base_url="")
            issuer = TokenIssuer(CommonSettings(jwt_secret=SecretStr(TEST_JWT_SECRET)))
            revocations = Revocations()
            await revocations.poll_once(upstream, issuer)
            async with database.transaction() as session:  # e.g. one row of a long import
                await org_service.put_user(
                    session, app.state.ctx.events, name, UserIn(display_name="Leaver", active=False),
                    scrypt_n=TEST_SCRYPT_N,
                )
                await session.flush()
                await asyncio.sleep(1.5)  # the transaction goes on longer than the overlap
                await revocations.poll_once(upstream, issuer)  # the gateway asks meanwhile
            for _ in range(3):
                await revocations.poll_once(upstream, issuer)
                await asyncio.sleep(0.1)
            with pytest.raises(Unauthorized):
                revocations.check(Principal(name, claims={"iat": issued}))
    finally:
        await database.engine.dispose()


async def test_internal_endpoints_are_not_reachable_through_the_gateway(start_gateway, standins, bearer):
    admin = bearer("ada", "admin")
    async with start_gateway(revocation_poll_seconds=0) as url, httpx.AsyncClient(base_url=url) as http:
        for path in (
            REVOCATIONS + "?since=2026-01-01T00:00:00Z",
            "/api/v1/internal/v1/auth/revocations?since=2026-01-01T00:00:00Z",
            "/api/v1/org/../../internal/v1/auth/revocations?since=2026-01-01T00:00:00Z",
            "/api/v1/org/%2e%2e/%2e%2e/internal/v1/auth/revocations?since=2026-01-01T00:00:00Z",
            "/api/v1/org%2f..%2f..%2finternal/v1/auth/revocations?since=2026-01-01T00:00:00Z",
        ):
            answer = await http.get(path, headers=admin)
            assert answer.status_code in (404, 405), (path, answer.status_code, answer.text)
            assert "as_of" not in answer.text, path
            # and whatever reached a backend was not the internal path
            if answer.headers.get("x-backend"):
                assert "/internal/" not in answer.json()["path"], path


@pytest.mark.parametrize("iat", [None, "1700000000", -5, True])
def test_odd_issue_times_of_a_changed_user_are_refused(iat):
    revocations = Revocations()
    now = dt.datetime.now(dt.UTC)
    revocations.update([{"username": "bob", "valid_after": now.isoformat()}], now)
    with pytest.raises(Unauthorized):
        revocations.check(Principal("bob", claims={} if iat is None else {"iat": iat}))


@pytest.mark.parametrize("iat", [float("nan"), "x", 10**12])
def test_tokens_with_impossible_issue_times_are_refused_by_the_verifier(iat):
    """PyJWT refuses a non-numeric or future `iat` before the revocation check sees it."""
    from bpm_common.auth import TokenVerifier

    verifier = TokenVerifier(CommonSettings(jwt_secret=SecretStr(TEST_JWT_SECRET)))
    claims = {"iss": "bpm-platform", "aud": "bpm-platform", "sub": "bob", "iat": iat, "exp": int(time.time()) + 60}
    token = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        verifier.verify(token)


async def _revoked(client, since: dt.datetime) -> dict[str, str]:
    answer = await client.get(REVOCATIONS, params={"since": since.isoformat()}, headers=client.as_user(*SYSTEM))
    assert answer.status_code == 200, answer.text
    return {i["username"]: i["valid_after"] for i in answer.json()["items"]}


async def test_csv_import_changing_roles_or_department_cuts_tokens(client):
    await client.put("/api/v1/org/roles/cashier", json={}, headers=client.as_user(*ADMIN))
    await client.put("/api/v1/org/departments/finance", json={"name": "Finance"}, headers=client.as_user(*ADMIN))
    for name in ("imp-roles", "imp-dept", "imp-same"):
        await make_user(client, name)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    csv = b"username,display_name,roles,department\nimp-roles,R,cashier,\nimp-dept,D,,finance\nimp-same,Imp-Same,,\n"
    answer = await client.post("/api/v1/org/import", content=csv,
                               headers={**client.as_user(*ADMIN), "Content-Type": "text/csv"})
    assert answer.status_code == 200 and not answer.json()["rejected"], answer.text
    assert set(await _revoked(client, since)) == {"imp-roles", "imp-dept"}


async def test_an_admin_dropping_their_own_admin_role_cuts_their_tokens(client):
    await make_user(client, "self-admin", roles=["admin"])
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    answer = await client.put("/api/v1/org/users/self-admin", json={"display_name": "S", "roles": []},
                              headers=client.as_user("self-admin", "admin"))
    assert answer.status_code == 200, answer.text
    assert "self-admin" in await _revoked(client, since)


async def test_a_user_recreated_after_deletion_keeps_the_cut(client):
    await make_user(client, "phoenix", roles=["admin"])
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert (await client.delete("/api/v1/org/users/phoenix", headers=client.as_user(*ADMIN))).status_code == 204
    deleted = await _revoked(client, since)
    await make_user(client, "phoenix")  # a new person with the old name
    again = await _revoked(client, since)
    assert "phoenix" in again and again["phoenix"] >= deleted["phoenix"]


async def test_a_revoked_token_is_refused_on_a_cache_hit_too():
    """The LRU of verified tokens runs the revocation check on hits as well."""
    from bpm_common.auth import TokenVerifier
    from gateway.auth import CachedVerifier

    verifier = CachedVerifier(TokenVerifier(CommonSettings(jwt_secret=SecretStr(TEST_JWT_SECRET))), 10)
    token = _token("carol", time.time() - 30)["Authorization"].removeprefix("Bearer ")
    assert (await verifier.verify(token)).username == "carol"
    now = dt.datetime.now(dt.UTC)
    verifier.revocations.update([{"username": "carol", "valid_after": now.isoformat()}], now)
    with pytest.raises(Unauthorized):
        await verifier.verify(token)
