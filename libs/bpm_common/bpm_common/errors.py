"""Domain errors that carry their HTTP status, rendered once as RFC 9457 problem+json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from bpm_common import jsonutil
from bpm_common.logging import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger(__name__)


class DomainError(Exception):
    """An error a client caused or must know about; `status` is its HTTP status."""

    status: int = 400
    title: str = "Bad request"
    type: str = "about:blank"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.headers = headers
        self.extra = extra


class BadRequest(DomainError):
    status, title = 400, "Bad request"


class Unauthorized(DomainError):
    status, title = 401, "Unauthorized"

    def __init__(self, detail: str = "authentication required", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(DomainError):
    status, title = 403, "Forbidden"


class NotFound(DomainError):
    status, title = 404, "Not found"


class Conflict(DomainError):
    status, title = 409, "Conflict"


class PayloadTooLarge(DomainError):
    status, title = 413, "Payload too large"


class UnsupportedMediaType(DomainError):
    status, title = 415, "Unsupported media type"


class Unprocessable(DomainError):
    status, title = 422, "Unprocessable content"


class TooManyRequests(DomainError):
    status, title = 429, "Too many requests"


class ServiceUnavailable(DomainError):
    status, title = 503, "Service unavailable"


def field_error(field: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"field": field, "message": message, **extra}


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    errors: list[dict[str, Any]] | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(
        content=jsonutil.dumps_bytes(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _loc_to_field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] or parts
    return ".".join(parts)


def _validation_error(error: Mapping[str, Any]) -> dict[str, Any]:
    """One of FastAPI's validation errors as a field error. A body that is not JSON at all
    is the field `body` (FastAPI's location names the character position instead)."""
    loc = tuple(error.get("loc", ()))
    message = error.get("msg", "invalid")
    if error.get("type") == "json_invalid":
        at = f" at character {loc[1]}" if len(loc) > 1 else ""
        return field_error("body", f"{message}{at}", type="json_invalid")
    return field_error(_loc_to_field(loc), message, type=error.get("type"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return problem_response(
            exc.status, exc.title, exc.detail, errors=exc.errors, type_=exc.type,
            headers=exc.headers, **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [_validation_error(e) for e in exc.errors()]
        return problem_response(422, "Validation failed", "the request has invalid fields", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return problem_response(
            exc.status_code, _reason(exc.status_code), str(exc.detail) if exc.detail else None,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path, error=repr(exc))
        return problem_response(
            500, "Internal server error",
            "the server failed to handle the request; the request id identifies it in the logs",
            request_id=request.headers.get("x-request-id"),
        )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
