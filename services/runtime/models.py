"""Import every table of the runtime so Alembic and the app see the whole schema."""

from services.runtime.definitions.models import definitions
from services.runtime.instances.models import history, idempotency_keys, instances
from services.runtime.jobs.models import jobs
from services.runtime.org.models import org_departments, org_users
from services.runtime.subscriptions.models import subscriptions
from services.runtime.tasks.models import tasks

__all__ = [
    "definitions", "history", "idempotency_keys", "instances", "jobs", "org_departments", "org_users",
    "subscriptions", "tasks",
]
