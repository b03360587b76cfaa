"""Incidents of jobs: a timer, a report to a parent or a delivery that keeps failing.

Revision ID: e6a8c0d2f4b5
Revises: d5f7b9c1e3a4
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e6a8c0d2f4b5"
down_revision: str | Sequence[str] | None = "d5f7b9c1e3a4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("job_kind", sa.String(length=50), nullable=True))


def downgrade() -> None:
    op.drop_column("incidents", "job_kind")
