"""The runtime as a `ServiceDefinition`: its routers, tables, consumed events and workers."""

from __future__ import annotations

from pathlib import Path

from bpm_common.app import ServiceContext, ServiceDefinition, Subscription
from services.runtime import models  # noqa: F401 - registers every table
from services.runtime.admin import records as admin_records  # noqa: F401 - registers record handlers
from services.runtime.admin.api import router as admin_router
from services.runtime.calls import records as calls_records  # noqa: F401 - registers record handlers
from services.runtime.calls.api import router as calls_router
from services.runtime.copies import records as copies_records  # noqa: F401 - registers record handlers
from services.runtime.copies.api import router as copies_router
from services.runtime.database import Base
from services.runtime.deadlines import records as deadlines_records  # noqa: F401 - registers record handlers
from services.runtime.deadlines.api import router as deadlines_router
from services.runtime.deadlines.repository import CalendarCache
from services.runtime.definitions import handlers as definition_handlers
from services.runtime.definitions.service import GraphCache
from services.runtime.instances.api import direct as instances_direct
from services.runtime.instances.api import router as instances_router
from services.runtime.instances.history import HistoryKeys
from services.runtime.jobs import timers  # noqa: F401 - registers the timer job handler
from services.runtime.jobs.worker import JobRunner
from services.runtime.messages import records as messages_records  # noqa: F401 - registers record handlers
from services.runtime.messages.api import router as messages_router
from services.runtime.migration import records as migration_records  # noqa: F401 - registers record handlers
from services.runtime.migration.api import router as migration_router
from services.runtime.operations import records as operations_records  # noqa: F401 - registers record handlers
from services.runtime.operations.api import router as operations_router
from services.runtime.org import handlers as org_handlers
from services.runtime.settings import RuntimeSettings
from services.runtime.tasks.api import direct as tasks_direct
from services.runtime.tasks.api import router as tasks_router
from services.runtime.work import records as work_records  # noqa: F401 - registers record handlers
from services.runtime.work.api import router as work_router
from services.runtime.work.connector import run as run_http_connector


async def _prepare(ctx: ServiceContext) -> None:
    settings = ctx.settings if isinstance(ctx.settings, RuntimeSettings) else RuntimeSettings()
    ctx.extras["history_keys"] = HistoryKeys.from_settings(settings)
    ctx.extras["graphs"] = GraphCache()
    ctx.extras["jobs"] = JobRunner(ctx)
    ctx.extras["calendars"] = CalendarCache()


async def run_jobs(ctx: ServiceContext) -> None:
    """Background worker: due timers, deadlines, retries (any replica, SKIP LOCKED)."""
    await ctx.extras["jobs"].run()


async def listen_for_calendars(ctx: ServiceContext) -> None:
    """Background worker: drops the calendars kept in memory when one is saved (any replica)."""
    await ctx.extras["calendars"].listen(ctx.db)


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="runtime",
        title="BPM runtime",
        description="Process instances, tasks, history: the process engine with persistence.",
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[
            instances_router,
            tasks_router,
            work_router,
            messages_router,
            calls_router,
            operations_router,
            admin_router,
            migration_router,
            deadlines_router,
            copies_router,
        ],
        direct_routes=[instances_direct, tasks_direct],
        subscriptions=[
            Subscription(
                producer="designer",
                handlers={
                    "bpm.designer.definition.published": definition_handlers.on_definition_published,
                    "bpm.designer.definition.deprecated": definition_handlers.on_definition_deprecated,
                    "bpm.designer.org.user.upserted": org_handlers.on_user_upserted,
                    "bpm.designer.org.user.deleted": org_handlers.on_user_deleted,
                    "bpm.designer.org.department.upserted": org_handlers.on_department_upserted,
                    "bpm.designer.org.department.deleted": org_handlers.on_department_deleted,
                },
            )
        ],
        on_startup=[_prepare],
        workers=[run_jobs, run_http_connector, listen_for_calendars],
    )
