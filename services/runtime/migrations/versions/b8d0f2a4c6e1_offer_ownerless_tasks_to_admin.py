"""Open tasks that name nobody are offered to the role admin (as new ones now are).

A task whose model named no assignee, candidate or rule was stored with nobody: in no
inbox, and nobody could complete it. New tasks go to `admin`; this does the same for
the tasks already open.

Revision ID: b8d0f2a4c6e1
Revises: a7c9e1f3b5d2
"""
from collections.abc import Sequence

from alembic import op

revision: str = "b8d0f2a4c6e1"
down_revision: str | Sequence[str] | None = "a7c9e1f3b5d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE tasks SET candidate_roles = ARRAY['admin']::varchar[]"
        " WHERE state = 'open' AND assignee IS NULL"
        " AND cardinality(candidate_users) = 0 AND cardinality(candidate_roles) = 0"
    )


def downgrade() -> None:
    """Irreversible by design: which tasks named nobody is not kept, so they stay offered
    to admin (a downgrade leaves the data as it is)."""
