"""Import every table of the metrics service so Alembic and the app see the whole schema."""

from services.metrics.facts.models import event_log, instance_facts, task_facts

__all__ = ["event_log", "instance_facts", "task_facts"]
