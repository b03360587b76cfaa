"""Forms of each definition version, and the start form; joins the domains' revisions into one head.

Revision ID: f1a2b3c4d5e6
Revises: c4e8a1f0b7d2, d7a3c5e9f1b4, e9b4f2a6c8d1
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f1a2b3c4d5e6"
down_revision: str | Sequence[str] | None = ("c4e8a1f0b7d2", "d7a3c5e9f1b4", "e9b4f2a6c8d1")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "definitions",
        sa.Column("forms", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    )
    op.add_column(
        "definitions",
        sa.Column("start_forms", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("definitions", "start_forms")
    op.drop_column("definitions", "forms")
