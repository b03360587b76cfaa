"""Direct routes: a service's busiest endpoints taken without FastAPI's router and dependencies.

On the runtime's hot path (start an instance, list an inbox, complete a task) FastAPI's
way to the endpoint (the exception and exit-stack middleware, route matching, the
dependency solver, parameter extraction) cost about a sixth of the service's CPU per
call. A direct route answers such a call from `DirectRoutesMiddleware`, which sits
inside `RequestContextMiddleware` (request id, access log, latency histogram) and
takes only calls whose method and path it knows:

* the handler gets a `DirectCall` (path parameters, query, headers, the body read
  whole) and does what the FastAPI endpoint does, through the same code: the same
  unit of work (`Database.transaction`), the same principal (`current_principal`),
  the same schemas, the same service functions;
* it only answers calls it understands completely. For anything else (a path
  parameter, query or body that does not validate, a body that is not JSON) it returns
  None and the call goes the ordinary way, body and all, so every refusal is FastAPI's
  own 422 problem and nothing was done before it;
* a `DomainError` it raises is rendered by the app's own exception handler; anything
  else propagates as it would from an endpoint (the server-error middleware answers 500).

So the OpenAPI document and every answer stay FastAPI's; `tests/runtime/test_direct_routes.py`
sends the same calls with direct routes on and off and compares the answers. They are
off when `BPM_DIRECT_ROUTES=false`, and whenever FastAPI's own OpenTelemetry tracing is
configured (it traces the ordinary way only).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import Request
from prometheus_client import Counter
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bpm_common import jsonutil
from bpm_common.auth import Principal, current_principal
from bpm_common.errors import DomainError
from bpm_common.guard import read_body, replay

M = TypeVar("M", bound=BaseModel)

DIRECT_CALLS = Counter(
    "bpm_direct_route_calls_total",
    "Calls to a direct route, by how they were answered (direct, or ordinary when passed on)",
    ["service", "route", "way"],
)

_JSON_TYPES = (b"application/json", b"application/problem+json")


class DirectCall:
    """One call to a direct route, as its handler sees it."""

    __slots__ = ("scope", "params", "body", "_receive", "_request")

    def __init__(self, scope: Scope, params: dict[str, str], body: bytes, receive: Receive) -> None:
        self.scope, self.params, self.body, self._receive = scope, params, body, receive
        self._request: Request | None = None

    @property
    def request(self) -> Request:
        """A Starlette request over the call (for the app's state and exception handlers)."""
        if self._request is None:
            self._request = Request(self.scope, self._receive)
        return self._request

    def header(self, name: bytes) -> str | None:
        """The first value of header `name` (lower case), as FastAPI's `Header()` reads it."""
        for key, value in self.scope["headers"]:
            if key == name:
                return value.decode("latin-1")
        return None

    def query(self, model: type[M]) -> M | None:
        """The query string as `model`, or None when it repeats a name or does not validate."""
        pairs = parse_qsl(self.scope["query_string"].decode("latin-1"), keep_blank_values=True)
        values = dict(pairs)
        if len(values) != len(pairs):
            return None
        try:
            return model.model_validate(values)
        except ValidationError:
            return None

    def json(self, model: type[M]) -> M | None:
        """The JSON body as `model` (non-integer numbers as Decimal, as `ExactJSONRequest` reads
        them), or None when there is none, it is not JSON, or it does not validate."""
        content_type = self.header(b"content-type")
        if content_type is None or content_type.split(";", 1)[0].strip().encode() not in _JSON_TYPES:
            return None
        try:
            return model.model_validate(jsonutil.loads(self.body))
        except (ValueError, RecursionError, ValidationError):  # nested too deep: a RecursionError
            return None

    async def principal(self) -> Principal:
        """The caller, as `CurrentPrincipal` gives it (401 problems included)."""
        return await current_principal(self.request)

    async def run(self, work: Callable[[AsyncSession, Any, Principal], Awaitable[Response]]) -> Response:
        """`work(session, ctx, principal)` for the caller, in the request's unit of work (as
        `SessionDep` opens it: committed before the answer is sent, rolled back on an error)."""
        principal = await self.principal()
        state = self.request.app.state
        async with state.db.transaction() as session:
            return await work(session, state.ctx, principal)


DirectHandler = Callable[[DirectCall], Awaitable[Response | None]]

_PARAMETER = re.compile(r"\{(\w+)\}")


class DirectRoutes:
    """The direct routes of a service: `@routes.post("/api/v1/tasks/{task_id}/complete")`."""

    def __init__(self) -> None:
        self._routes: dict[str, list[tuple[re.Pattern[str], str, DirectHandler]]] = {}

    def get(self, path: str) -> Callable[[DirectHandler], DirectHandler]:
        return self._route("GET", path)

    def post(self, path: str) -> Callable[[DirectHandler], DirectHandler]:
        return self._route("POST", path)

    def _route(self, method: str, path: str) -> Callable[[DirectHandler], DirectHandler]:
        pattern = re.compile("^" + _PARAMETER.sub(r"(?P<\1>[^/]+)", path) + "$")

        def _register(handler: DirectHandler) -> DirectHandler:
            self._routes.setdefault(method, []).append((pattern, path, handler))
            return handler

        return _register

    def include(self, other: DirectRoutes) -> None:
        """Add the routes of `other` (a domain's routes into the service's)."""
        for method, routes in other._routes.items():
            self._routes.setdefault(method, []).extend(routes)

    def match(self, method: str, path: str) -> tuple[DirectHandler, str, dict[str, str]] | None:
        for pattern, template, handler in self._routes.get(method, ()):
            found = pattern.match(path)
            if found is not None:
                return handler, template, found.groupdict()
        return None

    def __bool__(self) -> bool:
        return bool(self._routes)


class DirectRoutesMiddleware:
    """Answers the calls of `routes` directly (see the module's docstring); passes on the rest."""

    def __init__(self, app: ASGIApp, *, routes: DirectRoutes, service: str, enabled: bool = True) -> None:
        self.app, self.routes, self.service, self.enabled = app, routes, service, enabled
        self._untraced: bool | None = None
        self._counters: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            self.routes.match(scope["method"], scope["path"])
            if scope["type"] == "http" and self.enabled and self._untraced_app(scope)
            else None
        )
        if found is None:
            await self.app(scope, receive, send)
            return
        handler, template, params = found
        body = await read_body(receive)
        if body is None:  # the client went away
            return
        call = DirectCall(scope, params, body, receive)
        try:
            response = await handler(call)
        except DomainError as exc:
            response = await _handled(call.request, exc)
        if response is None:
            self._count(template, "ordinary")
            await self.app(scope, replay(body, receive), send)
            return
        self._count(template, "direct")
        scope["route"] = _Template(template)  # the latency histogram's route label
        await response(scope, receive, send)

    def _untraced_app(self, scope: Scope) -> bool:
        if self._untraced is None:
            telemetry: Any = getattr(scope.get("app"), "_native_telemetry", None)
            self._untraced = telemetry is None or not telemetry.enabled()
        return self._untraced

    def _count(self, template: str, way: str) -> None:
        counter = self._counters.get((template, way))
        if counter is None:
            counter = self._counters[(template, way)] = DIRECT_CALLS.labels(self.service, template, way)
        counter.inc()


class _Template:
    """Stands in for `scope["route"]`: what `RequestContextMiddleware` reads of it."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


async def _handled(request: Request, exc: DomainError) -> Response:
    """The response of the app's exception handler for `exc`, as ExceptionMiddleware finds it."""
    handlers: dict[Any, Any] = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            return await handler(request, exc)
    raise exc


_UUID = TypeAdapter(UUID)


def parse_uuid(text: str) -> UUID | None:
    """A path parameter as FastAPI reads a `UUID` one (the same validator), or None when it
    is not one."""
    try:
        return _UUID.validate_python(text)
    except ValidationError:
        return None
