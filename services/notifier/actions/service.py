"""Approve/reject links: check the link, then complete the task through the gateway as the
person the link was made for, so every permission check of the runtime applies.

The link's id is locked (a transaction-scoped advisory lock) while it is used, so two
clicks on one message's links run one after the other; it is recorded as used once the
runtime gave a definite answer (done, not allowed, gone, already completed). When the
gateway or the runtime cannot answer now (unreachable, 5xx, 429) or refuses the request
as incomplete (422: the task needs a form), nothing is recorded and the link may be used
again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.auth import TokenIssuer
from bpm_common.logging import get_logger
from services.notifier.actions.models import UsedActionLink
from services.notifier.actions.tokens import (
    ActionClaims,
    ActionSigner,
    LinkExpired,
    LinkInvalid,
)
from services.notifier.org.models import OrgUser

log = get_logger(__name__)

USER_TOKEN_TTL = dt.timedelta(seconds=60)
_DEFINITE = {200, 201, 202, 204, 403, 404, 409, 410}


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What happened, for the page or the JSON answer."""

    status: int
    code: str  # done, confirm, used, expired, invalid, unknown_user, forbidden, gone,
    #            already_completed, refused, unavailable, disabled
    claims: ActionClaims | None = None
    detail: str | None = None


@dataclass
class ActionLinks:
    signer: ActionSigner | None
    issuer: TokenIssuer | None
    client: httpx.AsyncClient
    gateway_url: str

    def check(self, token: str) -> ActionResult | ActionClaims:
        """The link's claims, or the result that ends the request (invalid, expired, off)."""
        if self.signer is None or self.issuer is None:
            return ActionResult(503, "disabled", detail="action links are not configured")
        try:
            return self.signer.verify(token)
        except LinkExpired:
            return ActionResult(410, "expired")
        except LinkInvalid:
            return ActionResult(400, "invalid")

    async def preview(self, session: AsyncSession, token: str) -> ActionResult:
        """What a click would do (GET shows this with a button; nothing changes)."""
        checked = self.check(token)
        if isinstance(checked, ActionResult):
            return checked
        if await _used(session, checked) is not None:
            return ActionResult(409, "used", checked)
        return ActionResult(200, "confirm", checked)

    async def perform(self, session: AsyncSession, token: str) -> ActionResult:
        """Complete the task for the link's person, once."""
        checked = self.check(token)
        if isinstance(checked, ActionResult):
            return checked
        claims = checked
        await session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(str(claims.link_id), 0)))
        )
        if await _used(session, claims) is not None:
            return ActionResult(409, "used", claims)
        user = await session.get(OrgUser, claims.username)
        if user is None or not user.reachable:
            await _record(session, claims, 403)
            return ActionResult(403, "unknown_user", claims)
        result = await self._complete(claims, user)
        if result.status in _DEFINITE:
            await _record(session, claims, result.status)
        log.info(
            "action_link_used",
            task_id=claims.task_id,
            outcome=claims.outcome,
            username=claims.username,
            status=result.status,
            code=result.code,
        )
        return result

    async def _complete(self, claims: ActionClaims, user: OrgUser) -> ActionResult:
        assert self.issuer is not None
        bearer, _ = self.issuer.issue(
            user.username, list(user.roles), department=user.department, ttl=USER_TOKEN_TTL
        )
        verb = "approved" if claims.outcome == "approve" else "rejected"
        task = quote(claims.task_id, safe="")
        url = f"{self.gateway_url.rstrip('/')}/api/v1/tasks/{task}/complete"
        body: dict[str, Any] = {
            "variables": {},
            "comment": f"{verb} from {claims.channel}",
            "outcome": claims.outcome,
        }
        try:
            response = await self.client.post(
                url, json=body, headers={"Authorization": f"Bearer {bearer}"}
            )
        except httpx.HTTPError as exc:
            log.warning("action_gateway_unreachable", error=type(exc).__name__)
            return ActionResult(502, "unavailable", claims, "the platform cannot be reached")
        status = response.status_code
        detail = _detail(response)
        if 200 <= status < 300:
            return ActionResult(200, "done", claims)
        codes = {403: "forbidden", 404: "gone", 409: "already_completed", 410: "gone"}
        if status in codes:
            return ActionResult(status, codes[status], claims, detail)
        if status in (400, 422):
            return ActionResult(422, "refused", claims, detail)
        log.warning("action_gateway_failed", status=status)
        return ActionResult(502, "unavailable", claims, detail)


async def _used(session: AsyncSession, claims: ActionClaims) -> UsedActionLink | None:
    return await session.get(UsedActionLink, claims.link_id)


async def _record(session: AsyncSession, claims: ActionClaims, status: int) -> None:
    await session.execute(
        pg_insert(UsedActionLink)
        .values(
            link_id=claims.link_id,
            username=claims.username,
            task_id=claims.task_id,
            outcome=claims.outcome,
            used_at=dt.datetime.now(dt.UTC),
            status_code=status,
        )
        .on_conflict_do_nothing(index_elements=[UsedActionLink.link_id])
    )


def _detail(response: httpx.Response) -> str | None:
    """The `detail` of a problem+json answer, if any (shown to the person)."""
    try:
        body = response.json()
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail)[:500] if detail else None
