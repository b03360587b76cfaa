"""The designer's tables share one declarative base; outbox and inbox come from bpm_common."""

from bpm_common.db import make_base
from bpm_common.events.outbox import add_event_tables

Base = make_base()
add_event_tables(Base.metadata)
