"""Read the business gauges from the database when Prometheus scrapes `/metrics`.

Registered as an `on_scrape` hook: at most one database read per `max_age`
seconds, bounded by `timeout`; a failed read leaves the gauges out of that
scrape instead of failing it.
"""

from __future__ import annotations

import asyncio
import time

from bpm_common.app import ServiceContext
from bpm_common.logging import get_logger
from services.metrics.exporter.metrics import BusinessGauges, read_snapshot

log = get_logger(__name__)


class GaugeRefresher:
    def __init__(self, gauges: BusinessGauges, *, max_age: float, timeout: float) -> None:
        self.gauges, self.max_age, self.timeout = gauges, max_age, timeout
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()
        self.__name__ = "refresh_business_gauges"

    async def __call__(self, ctx: ServiceContext) -> None:
        async with self._lock:
            if time.monotonic() - self._read_at < self.max_age:
                return
            try:
                self.gauges.snapshot = await asyncio.wait_for(read_snapshot(ctx.db), self.timeout)
                self._read_at = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - the scrape goes on without the gauges
                log.warning("business_gauges_unavailable", error=repr(exc))
                self.gauges.snapshot = None
                self._read_at = float("-inf")
