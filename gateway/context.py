"""What a running gateway holds: settings, verifier, issuer, limits and the backend pools."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from starlette.requests import Request

from bpm_common.auth import TokenIssuer, TokenVerifier
from gateway.auth import CachedVerifier
from gateway.ratelimit import TokenBuckets
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream


@dataclass
class GatewayContext:
    settings: GatewaySettings
    verifier: CachedVerifier
    issuer: TokenIssuer | None
    requests: TokenBuckets  # per user, or per client IP for anonymous calls
    login_failures: TokenBuckets  # per username and client IP
    upstreams: dict[str, Upstream] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: GatewaySettings) -> GatewayContext:
        common = settings.common
        issuer = (
            TokenIssuer(common, ttl=dt.timedelta(seconds=settings.token_ttl_seconds))
            if common.jwt_secret is not None
            else None
        )
        return cls(
            settings=settings,
            verifier=CachedVerifier(TokenVerifier(common), settings.token_cache_size),
            issuer=issuer,
            requests=TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst),
            login_failures=TokenBuckets(
                settings.login_failures_per_minute / 60.0, settings.login_failures_per_minute
            ),
        )

    def upstream(self, service: str) -> Upstream:
        try:
            return self.upstreams[service]
        except KeyError:
            raise RuntimeError(
                "the gateway's backend pools are not open (lifespan not started)"
            ) from None


def gateway_context(request: Request) -> GatewayContext:
    """FastAPI dependency: the running gateway's context."""
    ctx: GatewayContext = request.app.state.gateway
    return ctx
