"""Process instances and their audit history."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.runtime.database import Base

instances = Table(
    "instances",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("definition_id", Uuid, nullable=False),
    Column("definition_key", String(255), nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("business_key", String(255)),
    Column("initiator", String(64)),
    Column("state", String(20), nullable=False),  # active | completed | terminated
    Column("trial", Boolean, nullable=False, server_default=text("false")),
    Column("engine_state", JSONB, nullable=False),
    Column("active_nodes", ARRAY(String(255)), nullable=False, server_default=text("'{}'")),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("event_sequence", Integer, nullable=False, server_default=text("0")),
    Column("history_hash", String(64), nullable=False, server_default=text("''")),
    Column("result", String(20)),  # rejected, when a rejection ended it
    Column("suspended", Boolean, nullable=False, server_default=text("false")),
    Column("parent_instance_id", Uuid),  # set for instances started by a call activity
    Column("parent_call_id", String(64)),
    Index("ix_instances_key_state", "definition_key", "state"),
    Index("ix_instances_business_key", "business_key"),
    Index("ix_instances_initiator", "initiator", "started_at"),
    Index("ix_instances_parent", "parent_instance_id"),
)

history = Table(
    "history",
    Base.metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("instance_id", Uuid, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(64)),
    Column("action", String(50), nullable=False),
    Column("node_id", String(255)),
    Column("node_name", String(500)),
    Column("task_id", Uuid),
    Column("comment", Text),
    Column("details", JSONB),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("key_id", String(16)),  # the key that signed the hash (instances/history.py)
    Index("ix_history_instance", "instance_id", "id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    Base.metadata,
    Column("key", String(255), primary_key=True),
    Column("username", String(64), primary_key=True),
    Column("endpoint", String(255), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # what the request held (sha256 of its JSON): a key sent again with another request is refused
    Column("request_hash", String(64)),
)
