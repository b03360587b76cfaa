"""Message and signal subscriptions of waiting instances, indexed for correlation."""

from sqlalchemy import Column, DateTime, Index, String, Table, Uuid, text

from services.runtime.database import Base

subscriptions = Table(
    "subscriptions",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("instance_id", Uuid, nullable=False),
    Column("kind", String(20), nullable=False),  # message | signal
    Column("name", String(500), nullable=False),
    Column("correlation_key", String(500)),
    Column("node_id", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index("ix_subscriptions_lookup", "kind", "name", "correlation_key"),
    Index("ix_subscriptions_instance", "instance_id"),
)
