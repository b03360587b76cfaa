"""Logging in for a token, and what happens to calls without a good one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bpm_common.errors import PROBLEM_JSON
from bpm_common.testing.plugin import TEST_JWT_SECRET
from tests.gateway.conftest import common_for_tests


async def test_login_issues_a_token_that_opens_the_api(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": "alice-pw"}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"  # noqa: S105
    assert body["expires_in"] == 3600
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    me = await client.get("/api/v1/auth/me", headers=auth)
    assert me.json() == {"username": "alice", "roles": ["employee"], "department": "sales"}
    proxied = await client.get("/api/v1/notifications/unread", headers=auth)
    assert proxied.status_code == 200
    assert proxied.json()["service"] == "notifier"


async def test_wrong_credentials_are_refused(client: httpx.AsyncClient) -> None:
    for credentials in (
        {"username": "alice", "password": "nope"},
        {"username": "nobody", "password": "x"},
    ):
        response = await client.post("/api/v1/auth/token", json=credentials)

        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM_JSON
        assert "password" in response.json()["detail"]


async def test_malformed_login_names_the_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/token", json={"username": ""})

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"username", "password"}

    not_json = await client.post(
        "/api/v1/auth/token",
        content=b"username=alice",
        headers={"content-type": "application/json"},
    )
    assert not_json.status_code == 422


async def test_repeated_failed_logins_are_throttled(client: httpx.AsyncClient) -> None:
    credentials = {"username": "mallory", "password": "guess"}
    for _ in range(3):  # the test gateway allows 3 failures per minute
        assert (await client.post("/api/v1/auth/token", json=credentials)).status_code == 401

    throttled = await client.post("/api/v1/auth/token", json=credentials)

    assert throttled.status_code == 429
    assert throttled.headers["content-type"] == PROBLEM_JSON
    assert int(throttled.headers["retry-after"]) >= 1
    # another user from the same address is not affected
    ok = await client.post(
        "/api/v1/auth/token", json={"username": "designer", "password": "designer-pw"}
    )
    assert ok.status_code == 200


async def test_api_calls_need_a_valid_token(client: httpx.AsyncClient, bearer) -> None:
    forged = jwt.encode(
        {"sub": "alice", "iss": "bpm-platform", "aud": "bpm-platform", "exp": 4102444800},
        "another-secret-of-sufficient-length-00",
        algorithm="HS256",
    )
    cases = {
        "missing": {},
        "not bearer": {"Authorization": "Basic YWxpY2U6YWxpY2UtcHc="},
        "garbage": {"Authorization": "Bearer not-a-token"},
        "forged": {"Authorization": f"Bearer {forged}"},
        "expired": bearer("alice", "employee", ttl=dt.timedelta(seconds=-60)),
    }
    for case, headers in cases.items():
        for path in ("/api/v1/tasks", "/api/v1/auth/me", "/api/v1/no-such-thing"):
            response = await client.get(path, headers=headers)

            assert response.status_code == 401, (case, path, response.text)
            assert response.headers["content-type"] == PROBLEM_JSON
            assert response.headers["www-authenticate"] == "Bearer"
    expired = await client.get("/api/v1/tasks", headers=cases["expired"])
    assert "expired" in expired.json()["detail"]


async def test_token_names_user_roles_and_department(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": "alice-pw"}
    )

    claims = jwt.decode(
        response.json()["access_token"],
        TEST_JWT_SECRET,
        algorithms=["HS256"],
        audience="bpm-platform",
    )
    assert claims["sub"] == "alice"
    assert claims["roles"] == ["employee"]
    assert claims["department"] == "sales"


async def test_login_when_the_designer_is_down(start_gateway, dead_url: str) -> None:
    async with start_gateway(designer_url=dead_url) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            "/api/v1/auth/token", json={"username": "alice", "password": "alice-pw"}
        )

    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["service"] == "designer"


def _identity_provider() -> tuple[rsa.RSAPrivateKey, Any]:
    """A signing key of an identity provider, and settings that trust it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    common = common_for_tests().model_copy(
        update={"oidc_public_key": public_pem.decode(), "oidc_issuer": "https://idp.example"}
    )
    return key, common


async def test_tokens_of_an_identity_provider_are_accepted(start_gateway) -> None:
    key, common = _identity_provider()
    claims = {"preferred_username": "olga", "roles": ["analyst"], "iss": "https://idp.example"}
    good = jwt.encode({**claims, "exp": 4102444800}, key, algorithm="RS256")
    stale = jwt.encode({**claims, "exp": 1000}, key, algorithm="RS256")

    async with start_gateway(common=common) as url, httpx.AsyncClient(base_url=url) as http:
        me = await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {good}"})
        report = await http.get("/api/v1/reports/r", headers={"Authorization": f"Bearer {good}"})
        expired = await http.get("/api/v1/reports/r", headers={"Authorization": f"Bearer {stale}"})

    assert me.json() == {"username": "olga", "roles": ["analyst"], "department": None}
    assert report.status_code == 200
    assert expired.status_code == 401


async def test_claims_of_the_wrong_shape_are_an_invalid_token(client: httpx.AsyncClient) -> None:
    def signed(**claims: object) -> dict[str, str]:
        token = jwt.encode(
            {"sub": "alice", "iss": "bpm-platform", "aud": "bpm-platform", "exp": 4102444800, **claims},
            TEST_JWT_SECRET,
            algorithm="HS256",
        )
        return {"Authorization": f"Bearer {token}"}

    for claims in (
        {"roles": 1},
        {"roles": True},
        {"roles": 1.5},
        {"roles": {"admin": False}},
        {"roles": ["employee", 7]},
        {"sub": "alice\u0000"},
        {"sub": "a" * 65},
    ):
        for path in ("/api/v1/auth/me", "/api/v1/tasks"):
            response = await client.get(path, headers=signed(**claims))
            assert response.status_code == 401, (claims, path, response.text)
            assert response.headers["content-type"] == PROBLEM_JSON
    me = await client.get("/api/v1/auth/me", headers=signed(roles="employee analyst", department=["x"]))
    assert me.status_code == 200, me.text
    assert me.json() == {"username": "alice", "roles": ["analyst", "employee"], "department": None}


async def test_an_identity_provider_cannot_grant_the_platforms_own_system_role(start_gateway) -> None:
    key, common = _identity_provider()
    token = jwt.encode(
        {"preferred_username": "olga", "roles": ["system", "analyst"], "iss": "https://idp.example",
         "exp": 4102444800},
        key,
        algorithm="RS256",
    )
    async with start_gateway(common=common) as url, httpx.AsyncClient(base_url=url) as http:
        me = await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["roles"] == ["analyst"]
