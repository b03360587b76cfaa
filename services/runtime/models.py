"""Import every table of the runtime so Alembic and the app see the whole schema."""

from services.runtime.copies.models import copies  # noqa: F401 - copies (抄送)
from services.runtime.deadlines.models import calendars  # noqa: F401 - business calendars
from services.runtime.definitions.models import definitions
from services.runtime.instances.models import history, idempotency_keys, instances
from services.runtime.jobs.models import jobs
from services.runtime.messages.models import start_events  # noqa: F401 - messages and signals
from services.runtime.migration.models import instance_migration_items, instance_migrations  # noqa: F401 - instance migrations
from services.runtime.org.models import org_departments, org_users
from services.runtime.subscriptions.models import subscriptions
from services.runtime.tasks.models import tasks
from services.runtime.work.models import incidents, work_items  # noqa: F401 - automated work

__all__ = [
    "definitions", "history", "idempotency_keys", "instances", "jobs", "org_departments", "org_users",
    "subscriptions", "tasks",
]
