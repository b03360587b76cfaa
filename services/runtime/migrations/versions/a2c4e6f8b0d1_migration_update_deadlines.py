"""Migrations record whether open tasks follow the new version's deadline rules.

`instance_migrations.update_deadlines`: the option of `POST /api/v1/migrations`, kept
with the migration so its batches apply it and `GET /api/v1/migrations/{id}` shows it.
Migrations recorded before it kept every deadline: false.

Revision ID: a2c4e6f8b0d1
Revises: f3b5d7a9c1e2
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a2c4e6f8b0d1"
down_revision: str | Sequence[str] | None = "f3b5d7a9c1e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "instance_migrations",
        sa.Column("update_deadlines", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("instance_migrations", "update_deadlines")
