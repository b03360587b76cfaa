"""Migrations of running instances from one version of a process to another."""

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB

from services.runtime.database import Base

instance_migrations = Table(
    "instance_migrations",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("definition_key", String(255), nullable=False),
    Column("from_definition_id", Uuid, nullable=False),
    Column("to_definition_id", Uuid, nullable=False),
    Column("from_version", Integer, nullable=False),
    Column("to_version", Integer, nullable=False),
    Column("mapping", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("state", String(20), nullable=False),  # pending | running | completed
    Column("batch_size", Integer, nullable=False),
    Column("total", Integer, nullable=False, server_default=text("0")),
    Column("migrated", Integer, nullable=False, server_default=text("0")),
    Column("failed", Integer, nullable=False, server_default=text("0")),
    Column("reason", Text),
    # open tasks at nodes whose deadline rules changed follow the new rules (migration/deadlines.py)
    Column("update_deadlines", Boolean, nullable=False, server_default=text("false")),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_instance_migrations_created_at", "created_at"),
)

# one row per instance to migrate; a batch takes the pending ones
instance_migration_items = Table(
    "instance_migration_items",
    Base.metadata,
    Column("migration_id", Uuid, primary_key=True),
    Column("instance_id", Uuid, primary_key=True),
    Column("state", String(20), nullable=False),  # pending | migrated | failed
    Column("error", Text),
    Column("processed_at", DateTime(timezone=True)),
    Index("ix_instance_migration_items_state", "migration_id", "state"),
)
