"""Message and signal start events of published definitions, indexed by name.

Written when a definition is published (see messages/starts.py); a message or a
signal that no instance waits for starts the latest live version of each process
whose start event catches it.
"""

from sqlalchemy import Column, Index, String, Table, Uuid

from services.runtime.database import Base

start_events = Table(
    "start_events",
    Base.metadata,
    Column("definition_id", Uuid, primary_key=True),
    Column("node_id", String(255), primary_key=True),
    Column("definition_key", String(255), nullable=False),
    Column("kind", String(20), nullable=False),  # message | signal
    Column("name", String(500), nullable=False),
    Index("ix_start_events_lookup", "kind", "name"),
)
