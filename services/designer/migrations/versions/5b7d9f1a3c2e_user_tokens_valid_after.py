"""Users: `tokens_valid_after`, the moment before which their tokens no longer hold.

Set when an account is deactivated or deleted, or its roles, department or password
change; the gateway refuses the tokens issued before it.

Revision ID: 5b7d9f1a3c2e
Revises: 33c966040a89
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b7d9f1a3c2e"
down_revision: str | None = "33c966040a89"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("tokens_valid_after", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "tokens_valid_after")
