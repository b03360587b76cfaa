"""automated work, incidents, message and signal start events

Revision ID: c4e8a1f0b7d2
Revises: a36176684d67
Create Date: 2026-11-24 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c4e8a1f0b7d2"
down_revision: str | None = "a36176684d67"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "work_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("definition_key", sa.String(length=255), nullable=False),
        sa.Column("business_key", sa.String(length=255), nullable=True),
        sa.Column("node_id", sa.String(length=255), nullable=False),
        sa.Column("node_name", sa.String(length=500), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=True),
        sa.Column("request", postgresql.JSONB(), nullable=True),
        sa.Column("variables", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("headers", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("retries_left", sa.Integer(), nullable=False),
        sa.Column("retry_backoff", sa.String(length=50), nullable=True),
        sa.Column("timeout", sa.String(length=50), nullable=True),
        sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lock_owner", sa.String(length=255), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
    )
    op.create_index("ix_work_items_pick", "work_items", ["kind", "state", "available_at"], unique=False)
    op.create_index("ix_work_items_topic", "work_items", ["topic", "state"], unique=False)
    op.create_index("ix_work_items_instance", "work_items", ["instance_id"], unique=False)
    op.create_table(
        "incidents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("definition_key", sa.String(length=255), nullable=False),
        sa.Column("node_id", sa.String(length=255), nullable=False),
        sa.Column("node_name", sa.String(length=500), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_state", "incidents", ["state", "created_at"], unique=False)
    op.create_index("ix_incidents_instance", "incidents", ["instance_id"], unique=False)
    op.create_index("ix_incidents_work", "incidents", ["work_id", "state"], unique=False)
    op.create_table(
        "start_events",
        sa.Column("definition_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.String(length=255), nullable=False),
        sa.Column("definition_key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("definition_id", "node_id", name=op.f("pk_start_events")),
    )
    op.create_index("ix_start_events_lookup", "start_events", ["kind", "name"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_start_events_lookup", table_name="start_events")
    op.drop_table("start_events")
    op.drop_index("ix_incidents_work", table_name="incidents")
    op.drop_index("ix_incidents_instance", table_name="incidents")
    op.drop_index("ix_incidents_state", table_name="incidents")
    op.drop_table("incidents")
    op.drop_index("ix_work_items_instance", table_name="work_items")
    op.drop_index("ix_work_items_topic", table_name="work_items")
    op.drop_index("ix_work_items_pick", table_name="work_items")
    op.drop_table("work_items")
