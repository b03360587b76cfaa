"""Events: CloudEvents envelope, transactional outbox, idempotent inbox, broker."""

from bpm_common.events.envelope import Event, new_event
from bpm_common.events.outbox import add_event, add_event_tables

__all__ = ["Event", "new_event", "add_event", "add_event_tables"]
