"""Initial schema: instance and task facts, daily node and reason aggregates, the event
log, published process models, the business calendar, outbox and inbox.

Revision ID: 7794dc16f663
Revises:
Create Date: 2026-11-23 10:40:42.998032
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7794dc16f663"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "business_calendars",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column(
            "working_hours",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=False,
            comment='per weekday ("mon".."sun") a list of ["HH:MM", "HH:MM"] periods',
        ),
        sa.Column("holidays", sa.ARRAY(sa.Date()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column(
            "extra_working_days",
            sa.ARRAY(sa.Date()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_business_calendars")),
    )
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
            "lifecycle IN ('start', 'complete', 'pi_abort', 'schedule', 'assign', 'reassign', 'ate_abort', 'withdraw')",  # noqa: E501
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
        sa.Column(
            "department",
            sa.Text(),
            nullable=True,
            comment="the initiator's department when the instance started",
        ),
        sa.Column("trial", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "result", sa.Text(), nullable=True, comment="approved or rejected, once completed"
        ),
        sa.Column(
            "satisfaction",
            sa.Double(),
            nullable=True,
            comment="the satisfaction score the process collected",
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "cycle_seconds",
            sa.Double(),
            nullable=True,
            comment="ended_at - started_at, once the instance ended",
        ),
        sa.Column(
            "cycle_working_seconds", sa.Double(), nullable=True, comment="the same in working time"
        ),
        sa.Column(
            "ended_by", sa.Text(), nullable=True, comment="who terminated or withdrew the instance"
        ),
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
            "state IN ('running', 'completed', 'terminated', 'withdrawn')",
            name=op.f("ck_instance_facts_state"),
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
        "ix_instance_facts_ended_at",
        "instance_facts",
        ["ended_at"],
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
        postgresql_include=["trial", "department"],
        postgresql_where=sa.text("state = 'running'"),
    )
    op.create_index("ix_instance_facts_started_at", "instance_facts", ["started_at"], unique=False)
    op.create_table(
        "node_daily",
        sa.Column("definition_key", sa.Text(), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("trial", sa.Boolean(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="UTC date the tasks ended"),
        sa.Column("node_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("tasks", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("completed", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("decisions", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("rejected", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("returned", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("duration_sum", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("duration_working_sum", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("queue_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("queue_sum", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("queue_working_sum", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("work_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("work_sum", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("work_working_sum", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("due_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("on_time", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("overdue", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint(
            "definition_key",
            "definition_version",
            "trial",
            "department",
            "day",
            "node_id",
            name="pk_node_daily",
        ),
    )
    op.create_index("ix_node_daily_day", "node_daily", ["definition_key", "day"], unique=False)
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
        "process_models",
        sa.Column("definition_key", sa.Text(), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False, comment="published or trial"),
        sa.Column("bpmn", sa.LargeBinary(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("definition_key", "definition_version", name="pk_process_models"),
    )
    op.create_table(
        "reason_daily",
        sa.Column("definition_key", sa.Text(), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("trial", sa.Boolean(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="UTC date the tasks ended"),
        sa.Column("node_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "reason", sa.Text(), nullable=False, comment="normalised; '' when none was given"
        ),
        sa.Column("count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("kind IN ('reject', 'return')", name=op.f("ck_reason_daily_kind")),
        sa.PrimaryKeyConstraint(
            "definition_key",
            "definition_version",
            "trial",
            "department",
            "day",
            "node_id",
            "kind",
            "reason",
            name="pk_reason_daily",
        ),
    )
    op.create_index("ix_reason_daily_day", "reason_daily", ["definition_key", "day"], unique=False)
    op.create_table(
        "task_facts",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("definition_key", sa.Text(), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("trial", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "department",
            sa.Text(),
            nullable=True,
            comment="the instance's department, copied for the aggregates",
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "assignee",
            sa.Text(),
            nullable=True,
            comment="'' when the task was explicitly left without assignee",
        ),
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
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True, comment="offered"),
        sa.Column(
            "first_action_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="first claim, delegation, transfer, decision or return",
        ),
        sa.Column(
            "ended_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="completed, returned or cancelled",
        ),
        sa.Column(
            "overdue_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="when the runtime reported it overdue",
        ),
        sa.Column("actor", sa.Text(), nullable=True, comment="who completed or returned the task"),
        sa.Column(
            "outcome", sa.Text(), nullable=True, comment="approve or reject, for an approval"
        ),
        sa.Column(
            "comment", sa.Text(), nullable=True, comment="the comment given with the decision"
        ),
        sa.Column(
            "end_reason", sa.Text(), nullable=True, comment="why the task was returned or cancelled"
        ),
        sa.Column(
            "returned_to", sa.Text(), nullable=True, comment="the node the task was returned to"
        ),
        sa.Column("duration_seconds", sa.Double(), nullable=True, comment="created_at to ended_at"),
        sa.Column("duration_working_seconds", sa.Double(), nullable=True),
        sa.Column(
            "queue_seconds", sa.Double(), nullable=True, comment="created_at to first_action_at"
        ),
        sa.Column("queue_working_seconds", sa.Double(), nullable=True),
        sa.Column(
            "work_seconds",
            sa.Double(),
            nullable=True,
            comment="first_action_at to ended_at (completed or returned)",
        ),
        sa.Column("work_working_seconds", sa.Double(), nullable=True),
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
            "state IN ('open', 'completed', 'cancelled', 'returned')",
            name=op.f("ck_task_facts_state"),
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_facts")),
    )
    op.create_index(
        "ix_task_facts_due_at",
        "task_facts",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("due_at IS NOT NULL"),
    )
    op.create_index(
        "ix_task_facts_ended",
        "task_facts",
        ["definition_key", "ended_at"],
        unique=False,
        postgresql_where=sa.text("ended_at IS NOT NULL"),
    )
    op.create_index(
        "ix_task_facts_ended_at",
        "task_facts",
        ["ended_at"],
        unique=False,
        postgresql_where=sa.text("ended_at IS NOT NULL"),
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
    op.drop_index(
        "ix_task_facts_ended_at",
        table_name="task_facts",
        postgresql_where=sa.text("ended_at IS NOT NULL"),
    )
    op.drop_index(
        "ix_task_facts_ended",
        table_name="task_facts",
        postgresql_where=sa.text("ended_at IS NOT NULL"),
    )
    op.drop_index(
        "ix_task_facts_due_at",
        table_name="task_facts",
        postgresql_where=sa.text("due_at IS NOT NULL"),
    )
    op.drop_table("task_facts")
    op.drop_index("ix_reason_daily_day", table_name="reason_daily")
    op.drop_table("reason_daily")
    op.drop_table("process_models")
    op.drop_index(
        "ix_outbox_unpublished",
        table_name="outbox",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_node_daily_day", table_name="node_daily")
    op.drop_table("node_daily")
    op.drop_index("ix_instance_facts_started_at", table_name="instance_facts")
    op.drop_index(
        "ix_instance_facts_running",
        table_name="instance_facts",
        postgresql_include=["trial", "department"],
        postgresql_where=sa.text("state = 'running'"),
    )
    op.drop_index(
        "ix_instance_facts_process",
        table_name="instance_facts",
        postgresql_include=["state", "trial", "cycle_seconds"],
    )
    op.drop_index(
        "ix_instance_facts_ended_at",
        table_name="instance_facts",
        postgresql_where=sa.text("ended_at IS NOT NULL"),
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
    op.drop_table("business_calendars")
