"""The metrics service as a `ServiceDefinition`: its routers, tables and consumed events."""

from __future__ import annotations

from pathlib import Path

from bpm_common.app import ServiceDefinition, Subscription
from services.metrics import models  # noqa: F401 - registers every table
from services.metrics.analytics.api import router as analytics_router
from services.metrics.database import Base
from services.metrics.facts.handlers import HANDLERS


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="metrics",
        title="BPM metrics",
        description="Process analytics from the runtime's events; business metrics for Prometheus.",
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[analytics_router],
        subscriptions=[Subscription(producer="runtime", handlers=HANDLERS)],
    )
