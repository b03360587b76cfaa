"""The analytical tables, built from the runtime's events.

- `instance_facts`: one row per process instance, its latest known state and
  cycle time. Aggregations per process key and version read it through
  `ix_instance_facts_process`, which covers the filters and the measures.
- `task_facts`: one row per user task (node), when it was created and ended,
  by whom and with which outcome; the raw material of per-node waiting and
  handling times, SLA compliance and bottleneck rankings.
- `event_log`: append-only, one row per runtime event, in the shape process
  mining needs (case id, activity, timestamp, resource, lifecycle transition of
  the XES standard lifecycle model).

Free-form texts (keys, names, users, reasons) are `Text`: an event is never
refused because a value is longer than a guessed limit.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.metrics.database import Base

INSTANCE_STATES = ("running", "completed", "terminated")
TASK_STATES = ("open", "completed", "cancelled")
LIFECYCLES = ("start", "complete", "pi_abort", "schedule", "withdraw")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


instance_facts = Table(
    "instance_facts",
    Base.metadata,
    Column("instance_id", Uuid, primary_key=True),
    Column("definition_id", Uuid),
    Column("definition_key", Text, nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("business_key", Text),
    Column("initiator", Text),
    Column("trial", Boolean, nullable=False, server_default=text("false")),
    Column("state", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("cycle_seconds", Double, comment="ended_at - started_at, once the instance ended"),
    Column("ended_by", Text, comment="who terminated the instance"),
    Column("end_reason", Text),
    Column("last_sequence", BigInteger, nullable=False, comment="newest event sequence applied"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_one_of("state", INSTANCE_STATES), name="state"),
    Index(
        "ix_instance_facts_process",
        "definition_key",
        "definition_version",
        "started_at",
        postgresql_include=["state", "trial", "cycle_seconds"],
    ),
    Index(
        "ix_instance_facts_ended",
        "definition_key",
        "definition_version",
        "ended_at",
        postgresql_where=text("ended_at IS NOT NULL"),
    ),
    Index(
        "ix_instance_facts_running",
        "definition_key",
        postgresql_include=["trial"],
        postgresql_where=text("state = 'running'"),
    ),
)

task_facts = Table(
    "task_facts",
    Base.metadata,
    Column("task_id", Uuid, primary_key=True),
    Column("instance_id", Uuid, nullable=False),
    Column("definition_key", Text, nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("node_id", Text, nullable=False),
    Column("name", Text),
    Column("trial", Boolean, nullable=False, server_default=text("false")),
    Column("state", String(16), nullable=False),
    Column("assignee", Text),
    Column("candidate_users", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("candidate_roles", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("due_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True), comment="completed or cancelled"),
    Column("duration_seconds", Double, comment="ended_at - created_at, once the task ended"),
    Column("actor", Text, comment="who completed the task"),
    Column("outcome", Text, comment="the decision, when the producer reports one"),
    Column("end_reason", Text, comment="why the task was cancelled"),
    Column("last_sequence", BigInteger, nullable=False, comment="newest event sequence applied"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_one_of("state", TASK_STATES), name="state"),
    Index(
        "ix_task_facts_process",
        "definition_key",
        "definition_version",
        "created_at",
        postgresql_include=["state", "trial", "duration_seconds"],
    ),
    Index("ix_task_facts_node", "definition_key", "definition_version", "node_id"),
    Index("ix_task_facts_instance_id", "instance_id"),
    Index(
        "ix_task_facts_open",
        "definition_key",
        "due_at",
        postgresql_include=["trial"],
        postgresql_where=text("state = 'open'"),
    ),
)

event_log = Table(
    "event_log",
    Base.metadata,
    Column("position", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("event_type", Text, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("case_id", Uuid, nullable=False, comment="the process instance"),
    Column("definition_key", Text, nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("trial", Boolean, nullable=False, server_default=text("false")),
    Column("task_id", Uuid),
    Column(
        "activity", Text, nullable=False, comment="node id of a task, the process key otherwise"
    ),
    Column("activity_name", Text),
    Column("lifecycle", String(16), nullable=False, comment="XES standard lifecycle transition"),
    Column("resource", Text, comment="the user who did it"),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("attributes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(_one_of("lifecycle", LIFECYCLES), name="lifecycle"),
    # the same fact announced again under a new event id is not a second entry
    Index(
        "uq_event_log_fact",
        "case_id",
        "event_type",
        "task_id",
        "sequence",
        unique=True,
        postgresql_nulls_not_distinct=True,
    ),
    Index("ix_event_log_process", "definition_key", "definition_version", "occurred_at"),
    Index("ix_event_log_case", "case_id", "occurred_at"),
)
