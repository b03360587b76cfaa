"""approval operations and instance migrations: delegation and urge columns of tasks,
migrations of running instances with one item per instance

Revision ID: e9b4f2a6c8d1
Revises: a36176684d67
Create Date: 2026-11-24 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e9b4f2a6c8d1"
down_revision: str | None = "a36176684d67"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("owner", sa.String(length=64), nullable=True))
    op.add_column("tasks", sa.Column("delegation_state", sa.String(length=20), nullable=True))
    op.add_column("tasks", sa.Column("last_urged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "instance_migrations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("definition_key", sa.String(length=255), nullable=False),
        sa.Column("from_definition_id", sa.Uuid(), nullable=False),
        sa.Column("to_definition_id", sa.Uuid(), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column(
            "mapping",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("migrated", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instance_migrations")),
    )
    op.create_index(
        "ix_instance_migrations_created_at", "instance_migrations", ["created_at"], unique=False
    )
    op.create_table(
        "instance_migration_items",
        sa.Column("migration_id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "migration_id", "instance_id", name=op.f("pk_instance_migration_items")
        ),
    )
    op.create_index(
        "ix_instance_migration_items_state",
        "instance_migration_items",
        ["migration_id", "state"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_instance_migration_items_state", table_name="instance_migration_items")
    op.drop_table("instance_migration_items")
    op.drop_index("ix_instance_migrations_created_at", table_name="instance_migrations")
    op.drop_table("instance_migrations")
    op.drop_column("tasks", "last_urged_at")
    op.drop_column("tasks", "delegation_state")
    op.drop_column("tasks", "owner")
