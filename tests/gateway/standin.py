"""Stand-in backend services for the gateway tests, and a way to serve ASGI apps on real ports.

A stand-in answers every `/api/v1` call with what it received (method, path, query,
headers, body), so a test sees exactly what the gateway passed on. The designer
stand-in checks credentials at `/internal/v1/auth/verify` (demanding a valid system
token); the notifier stand-in streams Server-Sent Events; the runtime stand-in has a
call that never answers. The designer and runtime stand-ins both define a schema
named `Item`, differently, to exercise the OpenAPI merge.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, create_model

from bpm_common.auth import TokenVerifier
from bpm_common.errors import DomainError
from bpm_common.settings import CommonSettings
from bpm_stack.embedded import free_port

#: username -> (password, roles, department, display name)
USERS: dict[str, tuple[str, list[str], str | None, str]] = {
    "alice": ("alice-pw", ["employee"], "sales", "Alice Example"),
    "designer": ("designer-pw", ["process_designer"], None, "Dee Signer"),
}


class Shared(BaseModel):
    """Defined the same way by two stand-ins: kept once in the merged document."""

    note: str


# two different schemas with the same name, one per stand-in
DesignerItem = create_model("Item", id=(str, ...), key=(str, ...))
RuntimeItem = create_model("Item", id=(str, ...), assignee=(str | None, None))
ItemList = create_model("ItemList", items=(list[DesignerItem], ...), shared=(Shared | None, None))


@dataclass
class StandIn:
    """One stand-in backend service; tests flip `ready` and set `release` to drive it."""

    name: str
    common: CommonSettings
    url: str = ""  # where it listens, once served
    ready: bool = True
    release: asyncio.Event = field(default_factory=asyncio.Event)
    stream_started: asyncio.Event = field(default_factory=asyncio.Event)
    #: what the designer stand-in answers at `/internal/v1/auth/revocations`
    revocations: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI(title=f"{self.name} stand-in")
        verifier = TokenVerifier(self.common)

        @app.get("/readyz", include_in_schema=False)
        async def readyz() -> Response:
            return JSONResponse(
                {"status": "ready" if self.ready else "not_ready"}, 200 if self.ready else 503
            )

        def refused(request: Request) -> Response | None:
            try:
                principal = verifier.verify(
                    request.headers.get("authorization", "").removeprefix("Bearer ")
                )
            except DomainError:
                return JSONResponse({"detail": "no valid system token"}, 403)
            if "system" not in principal.roles:
                return JSONResponse({"detail": "system role required"}, 403)
            return None

        @app.get("/internal/v1/auth/revocations")
        async def revocations(request: Request, since: str) -> Response:
            refusal = refused(request)
            if refusal is not None:
                return refusal
            return JSONResponse(
                {"items": self.revocations, "as_of": dt.datetime.now(dt.UTC).isoformat()}
            )

        @app.post("/internal/v1/auth/verify")
        async def verify(request: Request) -> Response:
            refusal = refused(request)
            if refusal is not None:
                return refusal
            body = await request.json()
            user = USERS.get(body.get("username"))
            if user is None or user[0] != body.get("password"):
                return JSONResponse({"detail": "wrong credentials"}, 401)
            password, roles, department, display = user
            return JSONResponse(
                {
                    "username": body["username"],
                    "roles": roles,
                    "department": department,
                    "display_name": display,
                }
            )

        @app.get("/api/v1/notifications/stream")
        async def stream() -> StreamingResponse:
            async def events() -> AsyncIterator[bytes]:
                yield b"event: hello\ndata: first\n\n"
                self.stream_started.set()
                await self.release.wait()
                yield b"data: second\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        @app.get("/api/v1/tasks/slow")
        async def slow(request: Request) -> Response:
            for _ in range(200):  # until the gateway gives up and hangs up
                if await request.is_disconnected():
                    break
                await asyncio.sleep(0.05)
            return JSONResponse({"late": True})

        @app.get("/api/v1/exports/big")
        async def big() -> StreamingResponse:
            async def chunks() -> AsyncIterator[bytes]:
                for i in range(64):
                    yield (f"{i:04d}" * 4096).encode()

            return StreamingResponse(chunks(), media_type="text/csv")

        @app.post("/api/v1/jobs/last-word")
        async def last_word(request: Request) -> Response:
            return JSONResponse(
                {"client_port": request.client.port if request.client else None},
                headers={"connection": "close"},
            )

        @app.post("/api/v1/jobs/cookie")
        async def cookie() -> Response:
            return JSONResponse({"set": True}, headers={"set-cookie": "session=backend-secret; Path=/"})

        self._documented_routes(app)

        @app.api_route(
            "/api/v1/{path:path}",
            methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
            include_in_schema=False,
        )
        async def echo(path: str, request: Request) -> Response:
            body = await request.body()
            status = int(request.query_params.get("status", "200"))
            return JSONResponse(
                {
                    "service": self.name,
                    "method": request.method,
                    "path": request.url.path,
                    "raw_path": request.scope.get("raw_path", b"").decode(),
                    "query": request.url.query,
                    "headers": [[k, v] for k, v in request.headers.items()],
                    "body": body.decode(errors="replace"),
                    "client_port": request.client.port if request.client else None,
                },
                status_code=status,
                headers={"x-backend": self.name, "etag": '"v1"'},
            )

        return app

    def _documented_routes(self, app: FastAPI) -> None:
        if self.name == "designer":

            @app.get("/api/v1/definitions/{definition_id}", response_model=DesignerItem)
            async def get_definition(definition_id: str) -> Any:
                return {"id": definition_id, "key": "k"}

            @app.get("/api/v1/definitions", response_model=ItemList)
            async def list_definitions() -> Any:
                return {"items": []}

            @app.get("/api/v1/tasks/misplaced", response_model=Shared)
            async def misplaced() -> Shared:
                return Shared(note="a path the gateway routes to the runtime, not here")

        elif self.name == "runtime":

            @app.get("/api/v1/tasks/{task_id}", response_model=RuntimeItem)
            async def get_task(task_id: str) -> Any:
                return {"id": task_id}

            @app.get("/api/v1/process-instances/{instance_id}/note", response_model=Shared)
            async def note(instance_id: str) -> Shared:
                return Shared(note=instance_id)

        elif self.name == "notifier":

            @app.get("/api/v1/notifications", response_model=Shared)
            async def notifications() -> Shared:
                return Shared(note="inbox")

        elif self.name == "metrics":

            @app.get("/api/v1/analytics/processes/{key}/summary", response_model=Shared)
            async def summary(key: str) -> Shared:
                return Shared(note=key)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the test runner keeps its own signal handlers


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free local port inside the running event loop."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"the server on port {port} did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
