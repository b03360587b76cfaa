"""Initial schema: instance and task fact tables, the event log, outbox and inbox.

Revision ID: 67f915c3fc7e
Revises:
Create Date: 2026-11-23 09:07:42.424530
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "67f915c3fc7e"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False, comment="the process instance"),
        sa.Column("definition_key", sa.Text(), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("trial", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column(
            "activity",
            sa.Text(),
            nullable=False,
            comment="node id of a task, the process key otherwise",
        ),
        sa.Column("activity_name", sa.Text(), nullable=True),
        sa.Column(
            "lifecycle",
            sa.String(length=16),
            nullable=False,
            comment="XES standard lifecycle transition",
        ),
        sa.Column("resource", sa.Text(), nullable=True, comment="the user who did it"),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "lifecycle IN ('start', 'complete', 'pi_abort', 'schedule', 'withdraw')",
            name=op.f("ck_event_log_lifecycle"),
        ),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_event_log")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_log_event_id")),
    )
    op.create_index("ix_event_log_case", "event_log", ["case_id", "occurred_at"], unique=False)
    op.create_index(
        "ix_event_log_process",
        "event_log",
        ["definition_key", "definition_version", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "uq_event_log_fact",
        "event_log",
        ["case_id", "event_type", "task_id", "sequence"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=255), nullable=False),
        sa.Column(
            "handled_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    )
    op.create_index("ix_inbox_handled_at", "inbox", ["handled_at"], unique=False)
    op.create_table(
        "instance_facts",
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("definition_id", sa.Uuid(), nullable=True),
        sa.Column("definition_key", sa.Text(), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.Text(), nullable=True),
        sa.Column("initiator", sa.Text(), nullable=True),
        sa.Column("trial", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "cycle_seconds",
            sa.Double(),
            nullable=True,
            comment="ended_at - started_at, once the instance ended",
        ),
        sa.Column("ended_by", sa.Text(), nullable=True, comment="who terminated the instance"),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column(
            "last_sequence",
            sa.BigInteger(),
            nullable=False,
            comment="newest event sequence applied",
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('running', 'completed', 'terminated')", name=op.f("ck_instance_facts_state")
        ),
        sa.PrimaryKeyConstraint("instance_id", name=op.f("pk_instance_facts")),
    )
    op.create_index(
        "ix_instance_facts_ended",
        "instance_facts",
        ["definition_key", "definition_version", "ended_at"],
        unique=False,
        postgresql_where=sa.text("ended_at IS NOT NULL"),
    )
    op.create_index(
        "ix_instance_facts_process",
        "instance_facts",
        ["definition_key", "definition_version", "started_at"],
        unique=False,
        postgresql_include=["state", "trial", "cycle_seconds"],
    )
    op.create_index(
        "ix_instance_facts_running",
        "instance_facts",
        ["definition_key"],
        unique=False,
        postgresql_include=["trial"],
        postgresql_where=sa.text("state = 'running'"),
    )
    op.create_table(
        "outbox",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column(
            "headers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"], unique=False)
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["position"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "task_facts",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("definition_key", sa.Text(), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("trial", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.Column(
            "candidate_users",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "candidate_roles",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "ended_at", sa.DateTime(timezone=True), nullable=True, comment="completed or cancelled"
        ),
        sa.Column(
            "duration_seconds",
            sa.Double(),
            nullable=True,
            comment="ended_at - created_at, once the task ended",
        ),
        sa.Column("actor", sa.Text(), nullable=True, comment="who completed the task"),
        sa.Column(
            "outcome",
            sa.Text(),
            nullable=True,
            comment="the decision, when the producer reports one",
        ),
        sa.Column("end_reason", sa.Text(), nullable=True, comment="why the task was cancelled"),
        sa.Column(
            "last_sequence",
            sa.BigInteger(),
            nullable=False,
            comment="newest event sequence applied",
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('open', 'completed', 'cancelled')", name=op.f("ck_task_facts_state")
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_facts")),
    )
    op.create_index("ix_task_facts_instance_id", "task_facts", ["instance_id"], unique=False)
    op.create_index(
        "ix_task_facts_node",
        "task_facts",
        ["definition_key", "definition_version", "node_id"],
        unique=False,
    )
    op.create_index(
        "ix_task_facts_open",
        "task_facts",
        ["definition_key", "due_at"],
        unique=False,
        postgresql_include=["trial"],
        postgresql_where=sa.text("state = 'open'"),
    )
    op.create_index(
        "ix_task_facts_process",
        "task_facts",
        ["definition_key", "definition_version", "created_at"],
        unique=False,
        postgresql_include=["state", "trial", "duration_seconds"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_task_facts_process",
        table_name="task_facts",
        postgresql_include=["state", "trial", "duration_seconds"],
    )
    op.drop_index(
        "ix_task_facts_open",
        table_name="task_facts",
        postgresql_include=["trial"],
        postgresql_where=sa.text("state = 'open'"),
    )
    op.drop_index("ix_task_facts_node", table_name="task_facts")
    op.drop_index("ix_task_facts_instance_id", table_name="task_facts")
    op.drop_table("task_facts")
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(
        "ix_instance_facts_running",
        table_name="instance_facts",
        postgresql_include=["trial"],
        postgresql_where=sa.text("state = 'running'"),
    )
    op.drop_index(
        "ix_instance_facts_process",
        table_name="instance_facts",
        postgresql_include=["state", "trial", "cycle_seconds"],
    )
    op.drop_index(
        "ix_instance_facts_ended",
        table_name="instance_facts",
        postgresql_where=sa.text("ended_at IS NOT NULL"),
    )
    op.drop_table("instance_facts")
    op.drop_index("ix_inbox_handled_at", table_name="inbox")
    op.drop_table("inbox")
    op.drop_index("uq_event_log_fact", table_name="event_log", postgresql_nulls_not_distinct=True)
    op.drop_index("ix_event_log_process", table_name="event_log")
    op.drop_index("ix_event_log_case", table_name="event_log")
    op.drop_table("event_log")
