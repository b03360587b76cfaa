"""The metrics service as a `ServiceDefinition`: its routers, tables and consumed events."""

from __future__ import annotations

from pathlib import Path

from bpm_common.app import ServiceDefinition, Subscription
from services.metrics import models  # noqa: F401 - registers every table
from services.metrics.analytics.api import router as analytics_router
from services.metrics.database import Base
from services.metrics.exporter.metrics import BUSINESS_GAUGES
from services.metrics.exporter.scrape import GaugeRefresher
from services.metrics.exports.api import router as exports_router
from services.metrics.facts.handlers import FactHandlers
from services.metrics.reports.api import router as reports_router
from services.metrics.settings import MetricsSettings
from services.metrics.whatif.api import router as what_if_router
from services.metrics.worktime.api import router as calendar_router


def definition(settings: MetricsSettings | None = None) -> ServiceDefinition:
    settings = settings or MetricsSettings()
    refresher = GaugeRefresher(
        BUSINESS_GAUGES,
        max_age=settings.gauge_max_age_seconds,
        timeout=settings.gauge_query_timeout_seconds,
    )
    handlers = FactHandlers(settings.timezone)
    return ServiceDefinition(
        name="metrics",
        # its batch statements join a batch's arrays against tables that keep growing
        custom_plans=True,
        title="BPM metrics",
        description="Process analytics from the runtime's events; business metrics for Prometheus.",
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[
            calendar_router,
            analytics_router,
            what_if_router,
            reports_router,
            exports_router,
        ],
        subscriptions=[
            Subscription(producer="runtime", handlers=handlers.runtime()),
            Subscription(producer="designer", handlers=handlers.designer()),
        ],
        on_scrape=[refresher],
    )
