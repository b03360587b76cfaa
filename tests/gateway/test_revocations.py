"""Tokens of users whose account changed are refused within seconds, not at expiry: the
gateway asks the designer service which users' earlier tokens no longer hold."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest

from bpm_common.auth import Principal
from bpm_common.errors import Unauthorized
from gateway.auth import Revocations
from tests.gateway.standin import StandIn


async def test_a_token_issued_before_the_change_is_refused_and_a_new_one_holds(
    start_gateway: Callable[..., AbstractAsyncContextManager[str]],
    standins: dict[str, StandIn],
) -> None:
    designer = standins["designer"]
    async with start_gateway(revocation_poll_seconds=0.1) as url, httpx.AsyncClient(base_url=url) as http:
        login = await http.post("/api/v1/auth/token", json={"username": "alice", "password": "alice-pw"})
        old = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert (await http.get("/api/v1/definitions", headers=old)).status_code == 200
        await asyncio.sleep(1.1)  # tokens count whole seconds: the change comes a second later
        changed = dt.datetime.now(dt.UTC)
        designer.revocations = [{"username": "alice", "valid_after": changed.isoformat()}]
        try:

            async def refused() -> bool:
                return (await http.get("/api/v1/definitions", headers=old)).status_code == 401

            deadline = time.monotonic() + 5
            while not await refused():
                assert time.monotonic() < deadline, "the old token still opens the API"
                await asyncio.sleep(0.05)
            answer = await http.get("/api/v1/auth/me", headers=old)
            assert answer.status_code == 401 and "log in again" in answer.json()["detail"]
            await asyncio.sleep(max(0.0, changed.timestamp() + 1 - time.time()))
            login = await http.post("/api/v1/auth/token", json={"username": "alice", "password": "alice-pw"})
            new = {"Authorization": f"Bearer {login.json()['access_token']}"}
            assert (await http.get("/api/v1/definitions", headers=new)).status_code == 200
        finally:
            designer.revocations = []


async def test_revocations_name_a_moment_and_are_forgotten_when_no_token_can_be_that_old() -> None:
    revocations = Revocations()
    now = dt.datetime(2026, 12, 7, 9, 0, 0, 500_000, tzinfo=dt.UTC)
    revocations.update([{"username": "bob", "valid_after": now.isoformat()}], now)

    def principal(name: str, issued: float | None) -> Principal:
        return Principal(name, claims={} if issued is None else {"iat": issued})

    revocations.check(principal("bob", now.timestamp() + 0.001))  # made after the change
    revocations.check(principal("carol", 0))  # nobody changed carol
    for stale in (principal("bob", now.timestamp() - 0.001), principal("BOB", 0), principal("bob", None)):
        with pytest.raises(Unauthorized):
            revocations.check(stale)
    # an earlier moment, answered again by the overlap, does not move it back
    revocations.update([{"username": "bob", "valid_after": (now - dt.timedelta(hours=1)).isoformat()}], now)
    with pytest.raises(Unauthorized):
        revocations.check(principal("bob", now.timestamp() - 60))
    revocations.update([], now + dt.timedelta(days=8))
    revocations.check(principal("bob", 0))
