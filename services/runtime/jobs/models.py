"""Jobs: everything the runtime must do later (timers, deadlines, retries, timer starts).

Rows, never in-memory timers: any replica takes a due job with
`FOR UPDATE SKIP LOCKED`, so a job fires once even with many replicas, and a job
whose replica died mid-way is simply taken again.
"""

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB

from services.runtime.database import Base

jobs = Table(
    "jobs",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", String(50), nullable=False),
    Column("instance_id", Uuid),
    Column("definition_id", Uuid),
    Column("node_id", String(255)),
    Column("task_id", Uuid),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index("ix_jobs_due", "due_at"),
    Index("ix_jobs_instance", "instance_id"),
    Index("ix_jobs_task", "task_id"),
)
