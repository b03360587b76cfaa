"""Keep only unresolved notifications about a task in the open-task index.

Notifications without a task (an instance completed, a reminder of the whole instance)
are never resolved, so the index of unresolved ones grew with every instance; closing an
instance's notifications combined it with the instance index and read all of it each time.

Revision ID: c7e2a4d6f8b1
Revises: b3d5f7a9c1e2
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c7e2a4d6f8b1"
down_revision: str | Sequence[str] | None = "b3d5f7a9c1e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_notifications_open_task", table_name="notifications")
    op.create_index(
        "ix_notifications_open_task",
        "notifications",
        ["task_id"],
        postgresql_where=sa.text("resolved_at IS NULL AND task_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_open_task", table_name="notifications")
    op.create_index(
        "ix_notifications_open_task", "notifications", ["task_id"], postgresql_where=sa.text("resolved_at IS NULL")
    )
