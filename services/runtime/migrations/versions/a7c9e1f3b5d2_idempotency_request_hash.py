"""Idempotency keys remember what request they were used with.

Revision ID: a7c9e1f3b5d2
Revises: e6a8c0d2f4b5
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c9e1f3b5d2"
down_revision: str | Sequence[str] | None = "e6a8c0d2f4b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("idempotency_keys", sa.Column("request_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("idempotency_keys", "request_hash")
