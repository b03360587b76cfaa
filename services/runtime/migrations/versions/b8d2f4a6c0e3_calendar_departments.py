"""Departments of a business calendar: the organisations whose requests it counts.

Revision ID: b8d2f4a6c0e3
Revises: a7c9e1d3b5f2
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b8d2f4a6c0e3"
down_revision: str | Sequence[str] | None = "a7c9e1d3b5f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "calendars",
        sa.Column("departments", postgresql.ARRAY(sa.String(length=100)), server_default=sa.text("'{}'"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("calendars", "departments")
