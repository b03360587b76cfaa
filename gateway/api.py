"""The gateway's own API: log in for a token, and ask who the token belongs to."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from bpm_common.auth import Principal
from bpm_common.errors import TooManyRequests, Unauthorized
from gateway.auth import Login, bearer_token
from gateway.context import GatewayContext, gateway_context
from gateway.forwarding import client_ip
from gateway.ratelimit import retry_after
from gateway.routes import DESIGNER_SERVICE
from gateway.telemetry import RATE_LIMITED, UNAUTHORIZED

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

Context = Annotated[GatewayContext, Depends(gateway_context)]


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]+$")
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme's name
    expires_in: int = Field(description="Seconds until the token expires.")


class Me(BaseModel):
    username: str
    roles: list[str]
    department: str | None = None


def _limit(ctx: GatewayContext, key: str, limit: str) -> None:
    wait = ctx.requests.acquire(key)
    if wait:
        RATE_LIMITED.labels(limit).inc()
        raise TooManyRequests(
            "too many requests; slow down", headers={"Retry-After": retry_after(wait)}
        )


@router.post(
    "/token",
    summary="Log in: exchange a username and password for a bearer token",
    responses={
        401: {"description": "Wrong username or password"},
        429: {"description": "Too many attempts"},
    },
)
async def issue_token(body: TokenRequest, request: Request, ctx: Context) -> TokenResponse:
    """The designer service checks the credentials; the token names the user, their roles
    and department. Failed logins are limited per username and client address
    (`BPM_GATEWAY_LOGIN_FAILURES_PER_MINUTE`, 10 by default); beyond that the answer is
    429 with `Retry-After`, whatever the password."""
    ip = client_ip(request.scope)
    _limit(ctx, "ip:" + ip, "ip")
    attempts_key = f"{body.username.casefold()}|{ip}"
    wait = ctx.login_failures.wait_time(attempts_key)
    if wait:
        RATE_LIMITED.labels("login").inc()
        raise TooManyRequests(
            "too many failed logins for this user; try again later",
            headers={"Retry-After": retry_after(wait)},
        )
    login = Login(ctx.issuer, ctx.upstream(DESIGNER_SERVICE))
    try:
        token, expires_in = await login.issue(body.username, body.password)
    except Unauthorized:
        ctx.login_failures.acquire(attempts_key)
        UNAUTHORIZED.labels("bad_credentials").inc()
        raise
    return TokenResponse(access_token=token, expires_in=expires_in)


async def _principal(request: Request, ctx: Context) -> Principal:
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        UNAUTHORIZED.labels("missing_token").inc()
        raise Unauthorized("missing bearer token")
    try:
        principal = await ctx.verifier.verify(token)
    except Unauthorized:
        UNAUTHORIZED.labels("invalid_token").inc()
        raise
    _limit(ctx, "u:" + principal.username, "user")
    return principal


@router.get("/me", summary="The caller as the token names them")
async def me(principal: Annotated[Principal, Depends(_principal)]) -> Me:
    return Me(
        username=principal.username, roles=sorted(principal.roles), department=principal.department
    )
