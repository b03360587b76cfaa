"""Approve/reject links of chat messages.

`GET` shows what the link does and a button (chat apps and mail scanners open links to
preview them; a GET never changes anything); the button `POST`s to the same address,
which completes the task. Reached without a bearer token: the signed, single-use,
expiring link is the credential. Browsers get an HTML page, programs JSON.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse, Response

from bpm_common.db import SessionDep
from bpm_common.errors import problem_response
from bpm_common.http import ExactJSONResponse, api_router
from services.notifier.actions.pages import html_page
from services.notifier.actions.service import ActionResult
from services.notifier.notifications.templates import supported_locale
from services.notifier.org.models import OrgUser
from services.notifier.runtime import NotifierRuntime, notifier

router = api_router(prefix="/api/v1/notifications/actions", tags=["notifications"])

Runtime = Annotated[NotifierRuntime, Depends(notifier)]
Token = Annotated[str, Path(min_length=16, max_length=2000, pattern=r"^[A-Za-z0-9_.-]+$")]

_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@router.get("/{token}", summary="What an approve/reject link does (changes nothing)")
async def preview_action(
    token: Token, request: Request, session: SessionDep, runtime: Runtime
) -> Response:
    result = await runtime.actions.preview(session, token)
    return await _answer(request, session, runtime, result)


@router.post("/{token}", summary="Use an approve/reject link: complete the task")
async def use_action(
    token: Token, request: Request, session: SessionDep, runtime: Runtime
) -> Response:
    result = await runtime.actions.perform(session, token)
    return await _answer(request, session, runtime, result)


async def _answer(
    request: Request, session: AsyncSession, runtime: NotifierRuntime, result: ActionResult
) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        locale = runtime.settings.default_locale
        if result.claims is not None:
            user = await session.get(OrgUser, result.claims.username)
            locale = supported_locale(user.locale if user else None, locale)
        return HTMLResponse(html_page(result, locale), result.status, headers=_NO_STORE)
    if result.status >= 400:
        return problem_response(
            result.status,
            result.code.replace("_", " "),
            result.detail or result.code,
            code=result.code,
            headers=_NO_STORE,
        )
    claims = result.claims
    assert claims is not None
    body = {
        "status": "completed" if result.code == "done" else "pending_confirmation",
        "task_id": claims.task_id,
        "outcome": claims.outcome,
        "expires_at": claims.expires_at,
    }
    return ExactJSONResponse(body, headers=_NO_STORE)
