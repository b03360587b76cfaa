"""The service application factory: one place that wires what every service has.

A service describes itself with a `ServiceDefinition` (routers, tables,
migrations, the events it consumes, its background workers and start-up
hooks); `create_app` turns it into a FastAPI app whose lifespan creates the
database engine, runs migrations, connects to NATS, and starts the outbox
relay, the consumers and the workers, and stops them again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest
from sqlalchemy import MetaData
from starlette.responses import JSONResponse, Response

from bpm_common.auth import TokenVerifier
from bpm_common.db import Database, ensure_database
from bpm_common.direct import DirectRoutes, DirectRoutesMiddleware
from bpm_common.errors import install_error_handlers
from bpm_common.events.broker import Broker, ConsumerSpec
from bpm_common.events.inbox import EventConsumer, Handler
from bpm_common.events.jetstream import JetStreamBroker
from bpm_common.events.outbox import EventWriter, OutboxRelay
from bpm_common.events.streams import stream_name, stream_retention, stream_subjects
from bpm_common.guard import InputGuardMiddleware
from bpm_common.heap import settle_heap
from bpm_common.http import ExactJSONRoute, RequestContextMiddleware
from bpm_common.logging import configure_logging, get_logger
from bpm_common.migrations import upgrade_to_head
from bpm_common.settings import ServiceSettings

log = get_logger(__name__)

# `*_created` series double the exposition and no dashboard uses them
disable_created_metrics()


@dataclass
class Subscription:
    """Events of one producing service that this service consumes."""

    producer: str
    handlers: dict[str, Handler]
    subject_filter: str = ">"  # below `<ns>.<producer>.`


@dataclass
class ServiceContext:
    """What a running service holds; reachable as `app.state.ctx` and passed to hooks."""

    name: str
    settings: ServiceSettings
    db: Database
    broker: Broker
    events: EventWriter
    relay: OutboxRelay | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


Hook = Callable[[ServiceContext], Awaitable[None]]
Worker = Callable[[ServiceContext], Awaitable[None]]


@dataclass
class ServiceDefinition:
    name: str
    title: str
    description: str
    metadata: MetaData
    migrations: Path
    routers: list[APIRouter]
    subscriptions: list[Subscription] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
    #: awaited by `/metrics` before rendering (e.g. to read business gauges from the database);
    #: a failing hook is logged and the scrape goes on
    on_scrape: list[Hook] = field(default_factory=list)
    #: plan each statement for its parameters and the tables' sizes (see `Database`)
    custom_plans: bool = False
    #: endpoints answered without FastAPI's router and dependency solver (`bpm_common.direct`)
    direct_routes: list[DirectRoutes] = field(default_factory=list)
    version: str = "0.1.0"


def create_app(
    definition: ServiceDefinition,
    settings: ServiceSettings,
    *,
    db: Database | None = None,
    broker: Broker | None = None,
) -> FastAPI:
    common = settings.common
    ns = common.event_namespace

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = db
        if database is None:
            url = settings.sqlalchemy_url()
            await ensure_database(url)
            database = Database(
                url,
                application_name=definition.name,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                custom_plans=definition.custom_plans,
            )
            await upgrade_to_head(database.engine, definition.migrations, definition.name)
        the_broker = broker or JetStreamBroker(common.nats_url, name=f"bpm-{definition.name}")
        await the_broker.start()
        writer = EventWriter(definition.metadata, namespace=ns)
        ctx = ServiceContext(definition.name, settings, database, the_broker, writer)
        app.state.ctx = ctx
        app.state.db = database
        tasks: list[asyncio.Task[Any]] = []
        if common.workers_enabled:
            ctx.relay = OutboxRelay(
                database,
                the_broker,
                writer,
                service=definition.name,
                stream=stream_name(ns, definition.name),
                stream_subjects=stream_subjects(ns, definition.name),
                stream_max_age=stream_retention(definition.name),
            )
            tasks.append(asyncio.create_task(ctx.relay.run(), name="outbox-relay"))
            for sub in definition.subscriptions:
                consumer = EventConsumer(
                    name=f"{definition.name}-{sub.producer}",
                    db=database,
                    broker=the_broker,
                    writer=writer,
                    spec=ConsumerSpec(
                        stream=stream_name(ns, sub.producer),
                        durable=f"{definition.name}-{sub.producer}",
                        filter_subject=f"{ns}.{sub.producer}.{sub.subject_filter}",
                        ack_wait=float(getattr(settings, "event_ack_wait", 30.0)),
                    ),
                    handlers=sub.handlers,
                    namespace=ns,
                )
                ctx.consumers.append(consumer)
                tasks.append(asyncio.create_task(_consume(consumer, sub.producer, ns), name=consumer.name))
        for hook in definition.on_startup:
            await hook(ctx)
        if common.workers_enabled:
            for worker in definition.workers:
                tasks.append(asyncio.create_task(worker(ctx), name=getattr(worker, "__name__", "worker")))
        log.info("service_started", port=settings.port)
        if db is None:  # a server process, not a test's app
            settle_heap()
        try:
            yield
        finally:
            for consumer in ctx.consumers:
                consumer.stop()
            if ctx.relay:
                ctx.relay.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for hook in definition.on_shutdown:
                await hook(ctx)
            await the_broker.close()
            if db is None:
                await database.dispose()

    async def _consume(consumer: EventConsumer, producer: str, namespace: str) -> None:
        # the producer's stream may not exist yet (it starts later): create it ourselves
        while True:
            try:
                await consumer.broker.ensure_stream(
                    stream_name(namespace, producer),
                    stream_subjects(namespace, producer),
                    max_age=stream_retention(producer),
                )
                break
            except Exception:  # noqa: BLE001 - not connected yet
                await asyncio.sleep(0.5)
        await consumer.run()

    configure_logging(definition.name, level=common.log_level, json_output=common.log_json)
    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version=definition.version,
        lifespan=lifespan,
    )
    app.router.route_class = ExactJSONRoute
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(common)
    install_error_handlers(app)
    if definition.direct_routes:  # inside the request context: added before it
        direct = DirectRoutes()
        for routes in definition.direct_routes:
            direct.include(routes)
        app.add_middleware(
            DirectRoutesMiddleware,
            routes=direct,
            service=definition.name,
            enabled=common.direct_routes,
        )
    app.add_middleware(InputGuardMiddleware)  # before any endpoint, direct or not
    app.add_middleware(RequestContextMiddleware, service=definition.name, access_log=common.access_log)
    for router in definition.routers:
        app.include_router(router)
    app.include_router(operations_router(definition.name, definition.on_scrape))
    return app


def operations_router(service: str, on_scrape: list[Hook] | None = None) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz", summary="Database and NATS reachable")
    async def readyz(request: Request) -> Response:
        ctx: ServiceContext = request.app.state.ctx
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ctx.db.ping(), 2.0)
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["database"] = f"failed: {type(exc).__name__}"
        checks["nats"] = "ok" if ctx.broker.connected else "disconnected"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "service": service, "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics(request: Request) -> Response:
        ctx: ServiceContext | None = getattr(request.app.state, "ctx", None)
        if ctx is not None and ctx.relay is not None:
            try:
                await ctx.relay.backlog()
            except Exception:  # noqa: BLE001 - the scrape must not fail on it
                log.debug("outbox_backlog_unavailable")
        if ctx is not None:
            for hook in on_scrape or ():
                try:
                    await hook(ctx)
                except Exception as exc:  # noqa: BLE001 - the scrape goes on without it
                    log.warning("scrape_hook_failed", hook=getattr(hook, "__name__", repr(hook)), error=repr(exc))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
