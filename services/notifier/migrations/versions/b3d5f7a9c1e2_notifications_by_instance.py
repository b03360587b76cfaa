"""Index every notification by instance, not only the unresolved ones.

Looking up an instance's earlier notifications (for instance its business key when the
instance completes) read the whole table once they were resolved.

Revision ID: b3d5f7a9c1e2
Revises: f6210e1b9897
"""
from collections.abc import Sequence

from alembic import op

revision: str = "b3d5f7a9c1e2"
down_revision: str | Sequence[str] | None = "f6210e1b9897"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_notifications_open_instance", table_name="notifications")
    op.create_index("ix_notifications_instance", "notifications", ["instance_id"])


def downgrade() -> None:
    op.drop_index("ix_notifications_instance", table_name="notifications")
    op.execute("CREATE INDEX ix_notifications_open_instance ON notifications (instance_id) WHERE resolved_at IS NULL")
