"""The runtime's own copy of every published definition, built from designer events."""

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.runtime.database import Base

definitions = Table(
    "definitions",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("key", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(500)),
    Column("status", String(20), nullable=False),  # published | trial | deprecated
    Column("trial_roles", ARRAY(String(100)), nullable=False, server_default=text("'{}'")),
    Column("bpmn", LargeBinary, nullable=False),
    Column("compile_error", Text),
    #: the forms published with this version, by form key, and which start event names which
    Column("forms", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("start_forms", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    #: countersigns whose signers are rules: user task id -> bpm:signers
    Column("signers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("sequence", Integer, nullable=False, server_default=text("0")),
    Index("ix_definitions_key_status", "key", "status", "published_at"),
)
