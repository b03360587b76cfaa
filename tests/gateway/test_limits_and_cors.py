"""Rate limits per caller, and browsers calling from another origin."""

from __future__ import annotations

import httpx

from bpm_common.errors import PROBLEM_JSON
from gateway.ratelimit import TokenBuckets
from tests.gateway.conftest import ALLOWED_ORIGIN


async def test_a_busy_user_is_slowed_down_and_others_are_not(start_gateway, bearer) -> None:
    async with start_gateway(rate_limit_per_second=0.01, rate_limit_burst=3) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            busy = bearer("busy", "employee")
            statuses = [
                (await http.get("/api/v1/tasks", headers=busy)).status_code for _ in range(3)
            ]
            limited = await http.get("/api/v1/tasks", headers=busy)
            other = await http.get("/api/v1/tasks", headers=bearer("calm", "employee"))

    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == PROBLEM_JSON
    assert int(limited.headers["retry-after"]) >= 1
    assert other.status_code == 200


async def test_anonymous_callers_are_limited_by_address(start_gateway) -> None:
    async with start_gateway(rate_limit_per_second=0.01, rate_limit_burst=2) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            statuses = [(await http.get("/api/v1/tasks")).status_code for _ in range(3)]
            login = await http.post(
                "/api/v1/auth/token", json={"username": "alice", "password": "alice-pw"}
            )

    assert statuses == [401, 401, 429]
    assert login.status_code == 429
    assert "retry-after" in login.headers


async def test_rate_limited_and_unauthorized_calls_are_counted(
    start_gateway, client: httpx.AsyncClient
) -> None:
    async with start_gateway(rate_limit_per_second=0.01, rate_limit_burst=1) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            await http.get("/api/v1/tasks")
            await http.get("/api/v1/tasks")

    metrics = (await client.get("/metrics")).text
    assert 'bpm_gateway_rate_limited_total{limit="ip"}' in metrics
    assert 'bpm_gateway_unauthorized_total{reason="missing_token"}' in metrics


def test_token_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])

    assert buckets.acquire("k") == 0.0
    assert buckets.acquire("k") == 0.0
    assert buckets.acquire("k") == 0.5  # one token comes back after half a second
    assert buckets.acquire("other") == 0.0
    now[0] += 0.5
    assert buckets.wait_time("k") == 0.0
    assert buckets.acquire("k") == 0.0
    assert buckets.acquire("k") > 0.0


def test_token_bucket_forgets_idle_keys_when_full() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=2, clock=lambda: now[0])
    buckets.acquire("a")
    buckets.acquire("b")
    now[0] += 5
    buckets.acquire("c")  # a and b have refilled: dropping them changes nothing

    assert buckets.wait_time("a") == 0.0
    assert buckets.acquire("c") > 0.0


async def test_cors_preflight_and_exposed_headers(client: httpx.AsyncClient, bearer) -> None:
    preflight = await client.options(
        "/api/v1/tasks",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()

    simple = await client.get(
        "/api/v1/tasks", headers={"Origin": ALLOWED_ORIGIN, **bearer("alice")}
    )
    assert simple.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()

    foreign = await client.options(
        "/api/v1/tasks",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert foreign.status_code == 400
    assert "access-control-allow-origin" not in foreign.headers
