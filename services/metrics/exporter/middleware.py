"""Read the business gauges from the database when Prometheus scrapes `/metrics`.

`/metrics` itself belongs to `bpm_common.app` and renders the registry
synchronously; this pure ASGI middleware refreshes the gauges' snapshot just
before, at most once per `max_age` seconds, and never makes the scrape fail.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from bpm_common.db import Database
from bpm_common.logging import get_logger
from services.metrics.exporter.metrics import BusinessGauges, read_snapshot

log = get_logger(__name__)


class GaugeRefreshMiddleware:
    def __init__(
        self, app: ASGIApp, *, gauges: BusinessGauges, max_age: float, timeout: float
    ) -> None:
        self.app, self.gauges, self.max_age, self.timeout = app, gauges, max_age, timeout
        self._read_at = float("-inf")
        self._lock: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/metrics" and scope["method"] == "GET":
            db: Database | None = getattr(scope["app"].state, "db", None)
            if db is not None:
                await self._refresh(db)
        await self.app(scope, receive, send)

    async def _refresh(self, db: Database) -> None:
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if time.monotonic() - self._read_at < self.max_age:
                return
            try:
                self.gauges.snapshot = await asyncio.wait_for(read_snapshot(db), self.timeout)
                self._read_at = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - the scrape goes on without the gauges
                log.warning("business_gauges_unavailable", error=repr(exc))
                self.gauges.snapshot = None
                self._read_at = float("-inf")
