"""deadlines and copies: business calendars (default seeded), copies with read receipts,
time limit and escalation level of tasks

Revision ID: d7a3c5e9f1b4
Revises: a36176684d67
Create Date: 2026-11-24 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d7a3c5e9f1b4"
down_revision: str | None = "a36176684d67"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WEEKDAY = [["09:00", "18:00"]]
DEFAULT_WORKING_HOURS = {
    "mon": _WEEKDAY,
    "tue": _WEEKDAY,
    "wed": _WEEKDAY,
    "thu": _WEEKDAY,
    "fri": _WEEKDAY,
    "sat": [],
    "sun": [],
}


def upgrade() -> None:
    calendars = op.create_table(
        "calendars",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("working_hours", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "holidays", postgresql.ARRAY(sa.Date()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column(
            "extra_working_days",
            postgresql.ARRAY(sa.Date()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_calendars")),
    )
    op.bulk_insert(
        calendars,
        [
            {
                "name": "default",
                "timezone": "Asia/Shanghai",
                "working_hours": DEFAULT_WORKING_HOURS,
                "holidays": [],
                "extra_working_days": [],
            }
        ],
    )
    op.create_table(
        "copies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("node_id", sa.String(length=255), nullable=True),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_copies")),
    )
    op.create_index("ix_copies_recipient", "copies", ["recipient", "created_at"], unique=False)
    op.create_index(
        "ix_copies_instance_recipient", "copies", ["instance_id", "recipient"], unique=False
    )
    op.add_column("tasks", sa.Column("time_limit", sa.String(length=50), nullable=True))
    op.add_column(
        "tasks",
        sa.Column("escalation_level", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("tasks", "escalation_level")
    op.drop_column("tasks", "time_limit")
    op.drop_index("ix_copies_instance_recipient", table_name="copies")
    op.drop_index("ix_copies_recipient", table_name="copies")
    op.drop_table("copies")
    op.drop_table("calendars")
