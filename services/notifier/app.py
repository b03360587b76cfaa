"""The notifier as a `ServiceDefinition`: its routers, tables, consumed events and workers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bpm_common.app import ServiceDefinition, Subscription

from services.notifier import models  # noqa: F401 - registers every table
from services.notifier.database import Base
from services.notifier.deliveries.api import router as deliveries_router
from services.notifier.deliveries.channels import build_senders
from services.notifier.deliveries.worker import delivery_worker
from services.notifier.notifications.api import router as notifications_router
from services.notifier.notifications.service import NotificationRules
from services.notifier.org.handlers import HANDLERS as ORG_HANDLERS
from services.notifier.settings import NotifierSettings


def notification_rules(
    settings: NotifierSettings, outgoing_channels: frozenset[str]
) -> NotificationRules:
    return NotificationRules(
        public_url=settings.common.public_url,
        default_locale=settings.default_locale,
        outgoing_channels=outgoing_channels,
        unknown_recipient_grace=dt.timedelta(seconds=settings.unknown_recipient_grace),
    )


def definition(settings: NotifierSettings | None = None) -> ServiceDefinition:
    settings = settings or NotifierSettings()
    senders = build_senders(settings)
    rules = notification_rules(settings, frozenset(senders))
    return ServiceDefinition(
        name="notifier",
        title="BPM notifier",
        description=(
            "Decides who must hear about tasks and processes, keeps each person's in-app inbox, "
            "and delivers by email; the delivery log shows what went out."
        ),
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[notifications_router, deliveries_router],
        subscriptions=[
            Subscription(producer="runtime", handlers=rules.handlers()),
            Subscription(producer="designer", handlers=ORG_HANDLERS, subject_filter="org.>"),
        ],
        workers=[delivery_worker(senders, settings)] if senders else [],
    )
