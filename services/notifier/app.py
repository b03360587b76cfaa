"""The notifier as a `ServiceDefinition`: its routers, tables, consumed events and workers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bpm_common.app import ServiceContext, ServiceDefinition, Subscription
from services.notifier import models  # noqa: F401 - registers every table
from services.notifier.actions.api import router as actions_router
from services.notifier.channels.api import router as channels_router
from services.notifier.database import Base
from services.notifier.deliveries.api import router as deliveries_router
from services.notifier.deliveries.senders.registry import builtin_email
from services.notifier.deliveries.worker import delivery_worker
from services.notifier.notifications.api import router as notifications_router
from services.notifier.notifications.digest import digest_worker
from services.notifier.notifications.service import NotificationRules
from services.notifier.org.handlers import HANDLERS as ORG_HANDLERS
from services.notifier.preferences.api import router as preferences_router
from services.notifier.runtime import EXTRAS_KEY, NotifierRuntime
from services.notifier.settings import NotifierSettings


def notification_rules(settings: NotifierSettings, *, email_available: bool) -> NotificationRules:
    return NotificationRules(
        public_url=settings.common.public_url,
        default_locale=settings.default_locale,
        email_available=email_available,
        unknown_recipient_grace=dt.timedelta(seconds=settings.unknown_recipient_grace),
    )


def definition(settings: NotifierSettings | None = None) -> ServiceDefinition:
    settings = settings or NotifierSettings()
    email = builtin_email(settings)  # an unusable BPM_SMTP_URL stops the start here
    rules = notification_rules(settings, email_available=email is not None)

    async def start(ctx: ServiceContext) -> None:
        runtime = NotifierRuntime.build(settings, ctx)
        ctx.extras[EXTRAS_KEY] = runtime
        await runtime.hub.start()

    async def stop(ctx: ServiceContext) -> None:
        runtime: NotifierRuntime | None = ctx.extras.get(EXTRAS_KEY)
        if runtime is not None:
            await runtime.close()

    return ServiceDefinition(
        name="notifier",
        # its batch statements join a batch's arrays against tables that keep growing
        custom_plans=True,
        title="BPM notifier",
        description=(
            "Decides who must hear about tasks and processes, keeps each person's in-app inbox "
            "(with a Server-Sent-Events stream), and delivers by email and chat (DingTalk, "
            "WeCom, Feishu/Lark, Slack, Teams, webhooks) per each person's preferences; the "
            "delivery log shows what went out."
        ),
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[
            actions_router,
            notifications_router,
            channels_router,
            preferences_router,
            deliveries_router,
        ],
        subscriptions=[
            Subscription(producer="runtime", handlers=rules.handlers()),
            Subscription(producer="designer", handlers=ORG_HANDLERS, subject_filter="org.>"),
        ],
        workers=[delivery_worker(settings), digest_worker(rules, settings.digest_poll_interval)],
        on_startup=[start],
        on_shutdown=[stop],
    )
