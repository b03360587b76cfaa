"""User tasks: the rows behind every inbox."""

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.runtime.database import Base

tasks = Table(
    "tasks",
    Base.metadata,
    Column("id", Uuid, primary_key=True),
    Column("instance_id", Uuid, nullable=False),
    Column("definition_key", String(255), nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("node_id", String(255), nullable=False),
    Column("name", String(500)),
    Column("state", String(20), nullable=False),  # open | completed | cancelled
    Column("assignee", String(64)),
    Column("candidate_users", ARRAY(String(64)), nullable=False, server_default=text("'{}'")),
    Column("candidate_roles", ARRAY(String(100)), nullable=False, server_default=text("'{}'")),
    Column("due_at", DateTime(timezone=True)),
    Column("priority", Integer),
    Column("form_key", String(500)),
    Column("documentation", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    Column("completed_by", String(64)),
    Column("comment", Text),
    Column("outcome", JSONB),
    # approval operations: while delegated, `owner` is whom the task comes back to
    Column("owner", String(64)),
    Column("delegation_state", String(20)),  # pending | resolved
    Column("last_urged_at", DateTime(timezone=True)),
    # deadlines: the bpm:timeLimit the due time was computed from (working time), and how
    # many escalation levels an overdue task has gone through
    Column("time_limit", String(50)),
    Column("escalation_level", Integer, nullable=False, server_default=text("0")),
    # the inbox query reads only open tasks: partial indexes keep it as fast with a
    # million completed tasks as with none
    Index("ix_tasks_open_assignee", "assignee", "created_at", postgresql_where=text("state = 'open'")),
    Index(
        "ix_tasks_open_candidate_users", "candidate_users",
        postgresql_using="gin", postgresql_where=text("state = 'open'"),
    ),
    Index(
        "ix_tasks_open_candidate_roles", "candidate_roles",
        postgresql_using="gin", postgresql_where=text("state = 'open'"),
    ),
    Index("ix_tasks_instance", "instance_id"),
    Index("ix_tasks_completed_by", "completed_by", "completed_at"),
)
