"""Incidents of a process definition: a timer start that fired but could not start an instance.

Such an incident has no instance (`instance_id` null) and names the definition version
instead (`definition_id`, `definition_version`); its job (`work_id`) is the failed
timer start, parked until an administrator retries it.

The downgrade drops what the older schema cannot hold: the incidents without an
instance and the failed timer starts parked for them (the older runtime lost those
starts anyway).

Revision ID: f3b5d7a9c1e2
Revises: c9e1a3b5d7f0
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f3b5d7a9c1e2"
down_revision: str | Sequence[str] | None = "c9e1a3b5d7f0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("incidents", "instance_id", existing_type=sa.Uuid(), nullable=True)
    op.add_column("incidents", sa.Column("definition_id", sa.Uuid(), nullable=True))
    op.add_column("incidents", sa.Column("definition_version", sa.Integer(), nullable=True))
    op.create_check_constraint(
        "ck_incidents_owner", "incidents", "instance_id IS NOT NULL OR definition_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE kind = 'timer_start' AND payload ? 'failed_occurrence'")
    op.execute("DELETE FROM incidents WHERE instance_id IS NULL")
    op.drop_constraint("ck_incidents_owner", "incidents", type_="check")
    op.drop_column("incidents", "definition_version")
    op.drop_column("incidents", "definition_id")
    op.alter_column("incidents", "instance_id", existing_type=sa.Uuid(), nullable=False)
