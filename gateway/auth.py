"""Who is calling: cached token verification, and the login that issues tokens."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import OrderedDict
from typing import Any

import httpx
import jwt

from bpm_common.auth import SYSTEM, Principal, TokenIssuer, TokenVerifier
from bpm_common.errors import ServiceUnavailable, Unauthorized
from gateway.problems import BadGateway, upstream_failure
from gateway.routes import DESIGNER_SERVICE
from gateway.upstream import Upstream

VERIFY_PATH = "/internal/v1/auth/verify"
SYSTEM_TOKEN_TTL = dt.timedelta(seconds=60)


class CachedVerifier:
    """`TokenVerifier` with a small LRU of verified tokens, each kept until it expires.

    Verification sits on every proxied request; a cache hit is a dict lookup instead of
    an HMAC (or an RSA check and perhaps a JWKS fetch) per call.
    """

    def __init__(self, verifier: TokenVerifier, size: int) -> None:
        self.verifier, self.size = verifier, size
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The token's principal; raises `Unauthorized` for a bad or expired token."""
        entry = self._cache.get(token)
        if entry is not None:
            if time.time() < entry[1]:
                self._cache.move_to_end(token)
                return entry[0]
            del self._cache[token]
        if _needs_key_lookup(token):
            # an OIDC token may make PyJWKClient fetch keys over the network: not on the loop
            principal = await asyncio.to_thread(self.verifier.verify, token)
        else:
            principal = self.verifier.verify(token)
        expires = principal.claims.get("exp")
        if self.size and isinstance(expires, (int, float)):
            self._cache[token] = (principal, float(expires))
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return principal


def _needs_key_lookup(token: str) -> bool:
    try:
        return jwt.get_unverified_header(token).get("alg") != "HS256"
    except jwt.PyJWTError:
        return False  # the verifier names the problem


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header (None when absent or another scheme)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class Login:
    """Checks credentials with the designer service and issues the gateway's access tokens."""

    def __init__(self, issuer: TokenIssuer | None, designer: Upstream) -> None:
        self.issuer, self.designer = issuer, designer

    async def issue(self, username: str, password: str) -> tuple[str, int]:
        """An access token and its lifetime in seconds; `Unauthorized` for wrong credentials."""
        issuer = self._require_issuer()
        account = await self._verify(issuer, username, password)
        roles = account.get("roles") or []
        department = account.get("department")
        name = account.get("username") or username
        if not isinstance(name, str) or not isinstance(roles, list):
            raise BadGateway(
                "the designer service answered an invalid account", service=DESIGNER_SERVICE
            )
        return issuer.issue(
            name,
            [str(r) for r in roles],
            department=department if isinstance(department, str) else None,
        )

    def _require_issuer(self) -> TokenIssuer:
        if self.issuer is None:
            raise ServiceUnavailable(
                "the built-in token issuer is disabled (BPM_JWT_SECRET is not set); "
                "obtain a token from the identity provider"
            )
        return self.issuer

    async def _verify(self, issuer: TokenIssuer, username: str, password: str) -> dict[str, Any]:
        system_token, _ = issuer.issue("gateway", [SYSTEM], ttl=SYSTEM_TOKEN_TTL)
        try:
            response = await self.designer.client.post(
                self.designer.base_url + VERIFY_PATH,
                json={"username": username, "password": password},
                headers={"authorization": f"Bearer {system_token}"},
            )
        except httpx.HTTPError as exc:
            raise upstream_failure(DESIGNER_SERVICE, exc) from exc
        if response.status_code == 401:
            raise Unauthorized("wrong username or password")
        if response.status_code != 200:
            raise BadGateway(
                f"the designer service answered {response.status_code} to the credential check",
                service=DESIGNER_SERVICE,
            )
        try:
            account = response.json()
        except ValueError as exc:
            raise BadGateway(
                "the designer service answered no JSON", service=DESIGNER_SERVICE
            ) from exc
        if not isinstance(account, dict):
            raise BadGateway(
                "the designer service answered an invalid account", service=DESIGNER_SERVICE
            )
        return account
