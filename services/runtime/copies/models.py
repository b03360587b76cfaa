"""Copies (抄送) of instances: one row per recipient, with its read receipt."""

from sqlalchemy import Column, DateTime, Index, String, Table, Text, Uuid

from services.runtime.database import Base

copies = Table(
    "copies",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("instance_id", Uuid, nullable=False),
    Column("node_id", String(255)),  # the copy node or RACI node; null for a manual copy
    Column("recipient", String(64), nullable=False),
    Column("kind", String(20), nullable=False),  # copy | informed | manual
    Column("created_by", String(64)),  # who copied (null: the process model did)
    Column("message", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("read_at", DateTime(timezone=True)),
    Index("ix_copies_recipient", "recipient", "created_at"),
    Index("ix_copies_instance_recipient", "instance_id", "recipient"),
)
