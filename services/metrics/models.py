"""Import every table of the metrics service so Alembic and the app see the whole schema."""

from services.metrics.facts.models import (
    event_log,
    instance_facts,
    node_daily,
    process_models,
    reason_daily,
    task_facts,
)
from services.metrics.worktime.models import business_calendars

__all__ = [
    "business_calendars",
    "event_log",
    "instance_facts",
    "node_daily",
    "process_models",
    "reason_daily",
    "task_facts",
]
