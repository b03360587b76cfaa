"""Alembic, one history per service, run when the service starts.

Each service keeps `migrations/` (env.py + versions/) next to its code; its
env.py calls `run_env(metadata)`. `upgrade_to_head` takes a PostgreSQL advisory
lock so several replicas starting together migrate once.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bpm_common.logging import get_logger

log = get_logger(__name__)


def alembic_config(script_location: Path, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("version_table", "alembic_version")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's env.py: migrate on the connection the caller handed over."""
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "migrations run through the service (`python -m bpm_stack migrate`), "
            "which passes an open connection"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def upgrade_to_head(engine: AsyncEngine, script_location: Path, service: str) -> None:
    lock_key = zlib.crc32(f"bpm-migrate-{service}".encode())

    def _upgrade(sync_conn: Connection) -> None:
        sync_conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key})
        try:
            # "heads": several domains of a service may add revisions side by side
            command.upgrade(alembic_config(script_location, sync_conn), "heads")
            # committed before the lock is given back: a replica waiting for it must find the
            # schema and its version, or it migrates again and fails on what exists
            sync_conn.commit()
        except BaseException:
            # a failed statement leaves the transaction aborted: the unlock below would fail
            # too, and its error would replace the one that says what went wrong
            sync_conn.rollback()
            raise
        finally:
            sync_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key})
            sync_conn.commit()

    async with engine.connect() as conn:
        await conn.run_sync(_upgrade)
        await conn.commit()
    log.info("migrations_applied", service=service)


def autogenerate(engine_sync_conn: Connection, script_location: Path, message: str) -> None:
    """Write a new revision from the difference between models and database."""
    command.revision(alembic_config(script_location, engine_sync_conn), message=message, autogenerate=True)
