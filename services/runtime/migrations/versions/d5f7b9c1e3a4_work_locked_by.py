"""The account that locked an external task: only it may report on the lock.

Revision ID: d5f7b9c1e3a4
Revises: b8d2f4a6c0e3
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5f7b9c1e3a4"
down_revision: str | Sequence[str] | None = "b8d2f4a6c0e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("work_items", sa.Column("locked_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("work_items", "locked_by")
