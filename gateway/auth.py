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
from bpm_common.logging import get_logger
from gateway.problems import BadGateway, upstream_failure
from gateway.routes import DESIGNER_SERVICE
from gateway.upstream import Upstream

VERIFY_PATH = "/internal/v1/auth/verify"
REVOCATIONS_PATH = "/internal/v1/auth/revocations"
SYSTEM_TOKEN_TTL = dt.timedelta(seconds=60)
#: how far each question for revocations reaches back past the previous answer's time: a
#: change whose transaction was still open at that answer (stamped before it, committed
#: after), or a designer whose clock lags the database's, is still seen
REVOCATION_OVERLAP = dt.timedelta(minutes=5)
#: no token lives longer (`GatewaySettings.token_ttl_seconds` at most): older revocations
#: are forgotten
MAX_TOKEN_AGE = dt.timedelta(days=7)
#: seconds without an answer before the gateway warns (the designer may be starting)
UNREACHABLE_WARNING_AFTER = 30.0

log = get_logger(__name__)


class Revocations:
    """Users whose tokens issued before a moment no longer hold: their account was
    deactivated or deleted, or its roles, department or password changed (the designer
    service keeps that moment, `tokens_valid_after`). The gateway asks for them every
    `revocation_poll_seconds`, so a deactivated user is locked out within seconds instead
    of when their token expires.

    The gateway's own tokens carry as their issue time the moment the designer read the
    account (`checked_at`, to the microsecond), on the designer's clock like the change
    itself, so a token made before a change is refused with it and one made after holds.
    Tokens of an identity provider carry its clock, in whole seconds: one issued in the
    second of the change is refused too (log in again). User names are compared case
    folded. While the designer cannot be reached the last answer stands, and a warning
    says so.
    """

    def __init__(self) -> None:
        self._after: dict[str, float] = {}
        self.as_of: dt.datetime | None = None

    def check(self, principal: Principal) -> None:
        after = self._after.get(principal.username.casefold())
        if after is None:
            return
        issued = principal.claims.get("iat")
        if not isinstance(issued, int | float) or issued < after:
            raise Unauthorized("the account changed after this token was issued; log in again")

    def update(self, items: list[dict[str, Any]], as_of: dt.datetime) -> None:
        for item in items:
            moment = dt.datetime.fromisoformat(item["valid_after"]).timestamp()
            name = item["username"].casefold()  # an identity provider may spell it otherwise
            self._after[name] = max(moment, self._after.get(name, moment))
        oldest = (as_of - MAX_TOKEN_AGE).timestamp()
        for name in [name for name, moment in self._after.items() if moment < oldest]:
            del self._after[name]
        self.as_of = as_of

    async def poll_once(self, designer: Upstream, issuer: TokenIssuer) -> None:
        """Ask the designer service for the revocations since the last answer."""
        since = (self.as_of or dt.datetime.now(dt.UTC) - MAX_TOKEN_AGE) - REVOCATION_OVERLAP
        system_token, _ = issuer.issue("gateway", [SYSTEM], ttl=SYSTEM_TOKEN_TTL)
        response = await designer.client.get(
            designer.base_url + REVOCATIONS_PATH,
            params={"since": since.isoformat()},
            headers={"authorization": f"Bearer {system_token}"},
        )
        response.raise_for_status()
        body = response.json()
        self.update(body["items"], dt.datetime.fromisoformat(body["as_of"]))

    async def run(self, designer: Upstream, issuer: TokenIssuer, interval: float) -> None:
        """Poll for ever (a background task of the gateway's lifespan)."""
        failing_since: float | None = None  # the designer may still be starting: no alarm at once
        warned = False
        while True:
            try:
                await self.poll_once(designer, issuer)
                if warned:
                    log.info("revocations_reachable_again")
                failing_since, warned = None, False
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                failing_since = failing_since or time.monotonic()
                if not warned and time.monotonic() - failing_since >= UNREACHABLE_WARNING_AFTER:
                    log.warning("revocations_unreachable", error=repr(exc),
                                detail="tokens of users changed since stay valid until this recovers")
                    warned = True
            await asyncio.sleep(interval)


class CachedVerifier:
    """`TokenVerifier` with a small LRU of verified tokens, each kept until it expires.

    Verification sits on every proxied request; a cache hit is a dict lookup instead of
    an HMAC (or an RSA check and perhaps a JWKS fetch) per call.
    """

    def __init__(self, verifier: TokenVerifier, size: int, revocations: Revocations | None = None) -> None:
        self.verifier, self.size = verifier, size
        self.revocations = revocations or Revocations()
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The token's principal; raises `Unauthorized` for a bad, expired or revoked token."""
        entry = self._cache.get(token)
        if entry is not None:
            if time.time() < entry[1]:
                self._cache.move_to_end(token)
                self.revocations.check(entry[0])
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
        self.revocations.check(principal)
        return principal


def _moment(value: Any) -> dt.datetime | None:
    """A time the designer sent (ISO 8601 with a zone), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


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
            issued_at=_moment(account.get("checked_at")),
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
