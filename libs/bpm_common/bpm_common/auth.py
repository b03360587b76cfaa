"""Who is calling: bearer tokens from the built-in issuer (HS256) or an OIDC provider (RS256).

Every service verifies the token itself (the gateway is not the only line of
defence) and builds a `Principal`. Role checks are dependencies:
`Depends(require_roles("admin"))`.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from jwt import PyJWKClient

from bpm_common.errors import Forbidden, Unauthorized
from bpm_common.settings import CommonSettings

ADMIN = "admin"
DESIGNER = "process_designer"
SYSTEM = "system"
#: the longest user name the organisation model keeps
MAX_USERNAME = 64


@dataclass(frozen=True, slots=True)
class Principal:
    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    department: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False)
    token: str | None = field(default=None, compare=False, repr=False)

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


class TokenVerifier:
    CACHE_SIZE = 10_000

    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self._cache: dict[str, tuple[Principal, float]] = {}
        if settings.jwt_secret is None and not (settings.oidc_jwks_url or settings.oidc_public_key):
            raise RuntimeError(
                "no token verification configured: set BPM_JWT_SECRET (built-in issuer) and/or "
                "BPM_OIDC_JWKS_URL / BPM_OIDC_PUBLIC_KEY"
            )

    @cached_property
    def _jwks(self) -> PyJWKClient | None:
        return PyJWKClient(self.settings.oidc_jwks_url, cache_keys=True) if self.settings.oidc_jwks_url else None

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; verified tokens are remembered until they expire."""
        cached = self._cache.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        principal = self._verify(token)
        exp = principal.claims.get("exp")
        if isinstance(exp, (int, float)):
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[token] = (principal, float(exp))
        return principal

    def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed bearer token") from exc
        alg = header.get("alg")
        s = self.settings
        try:
            if alg == "HS256" and s.jwt_secret is not None:
                claims = jwt.decode(
                    token,
                    s.jwt_secret.get_secret_value(),
                    algorithms=["HS256"],
                    audience=s.jwt_audience,
                    issuer=s.jwt_issuer,
                    options={"require": ["exp", "sub", "iss"]},
                )
                username = claims["sub"]
                roles = claims.get("roles") or []
            elif alg in ("RS256", "RS384", "RS512", "ES256") and (s.oidc_jwks_url or s.oidc_public_key):
                key: Any = (
                    self._jwks.get_signing_key_from_jwt(token).key if self._jwks else s.oidc_public_key
                )
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=[alg],
                    audience=s.oidc_audience,
                    issuer=s.oidc_issuer,
                    options={"require": ["exp"], "verify_aud": s.oidc_audience is not None},
                )
                username = claims.get(s.oidc_username_claim) or claims.get("sub")
                roles = _claim_path(claims, s.oidc_roles_claim) or []
            else:
                raise Unauthorized(f"tokens signed with {alg!r} are not accepted")
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from exc
        if not isinstance(username, str) or not username:
            raise Unauthorized("token names no user")
        if len(username) > MAX_USERNAME or not username.isprintable():
            raise Unauthorized("the token's user name is not one a user can have")
        if isinstance(roles, str):
            roles = roles.split()  # a space-separated list, as OAuth writes scopes
        if not isinstance(roles, list | tuple) or not all(isinstance(r, str) for r in roles):
            raise Unauthorized("the token's roles are not a list of role names")
        granted = frozenset(roles)
        if alg != "HS256":
            granted -= {SYSTEM}  # only the platform's own tokens speak for a service
        department = claims.get("department")
        return Principal(
            username=username,
            roles=granted,
            department=department if isinstance(department, str) else None,
            claims=claims,
            token=token,
        )


def _claim_path(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class TokenIssuer:
    """The built-in issuer for the embedded setup (and service-to-service calls)."""

    def __init__(self, settings: CommonSettings, *, ttl: dt.timedelta = dt.timedelta(hours=1)) -> None:
        if settings.jwt_secret is None:
            raise RuntimeError("BPM_JWT_SECRET is required to issue tokens")
        self.settings, self.ttl = settings, ttl

    def issue(
        self,
        username: str,
        roles: list[str],
        *,
        department: str | None = None,
        ttl: dt.timedelta | None = None,
        issued_at: dt.datetime | None = None,
    ) -> tuple[str, int]:
        """A token; `issued_at`: when what it says of the user was read (default: now). Its
        `iat` keeps fractions of a second, so a token made just before an account change
        is told from one made just after it."""
        now = dt.datetime.now(dt.UTC)
        lifetime = ttl or self.ttl
        claims = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": username,
            "roles": sorted(roles),
            "iat": (issued_at or now).timestamp(),
            "nbf": now - dt.timedelta(seconds=5),
            "exp": now + lifetime,
        }
        if department:
            claims["department"] = department
        assert self.settings.jwt_secret is not None
        return jwt.encode(claims, self.settings.jwt_secret.get_secret_value(), algorithm="HS256"), int(
            lifetime.total_seconds()
        )


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("missing bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("authorization must be a bearer token")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = verifier.verify(bearer_token(request))
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str, allow_system: bool = True) -> Any:
    """Dependency: the caller must hold one of `roles` (admins always pass)."""
    wanted = set(roles) | {ADMIN} | ({SYSTEM} if allow_system else set())

    async def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.roles.intersection(wanted):
            raise Forbidden(f"requires one of the roles: {', '.join(sorted(set(roles)))}")
        return principal

    return Depends(_check)
