"""Import every table of the runtime so Alembic and the app see the whole schema."""

from services.runtime.definitions.models import definitions
from services.runtime.instances.models import history, idempotency_keys, instances
from services.runtime.org.models import org_departments, org_users
from services.runtime.tasks.models import tasks

__all__ = ["definitions", "history", "idempotency_keys", "instances", "org_departments", "org_users", "tasks"]
