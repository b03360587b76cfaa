"""Database engine, sessions and the one commit point per unit of work.

Services and repositories only `flush()`. The unit of work (an HTTP request,
an event handler, a job) opens `Database.transaction()`, and that context
commits when the work succeeded or rolls back when it raised. After a commit
that wrote outbox rows, the outbox relay is woken.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import MetaData, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from bpm_common import jsonutil
from bpm_common.logging import get_logger

log = get_logger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_base() -> type[DeclarativeBase]:
    """A declarative base with its own metadata; one per service."""

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION)

    return Base


class Database:
    """One service's async engine and session factory.

    `bind` lets tests run every unit of work inside an outer transaction that
    they roll back; sessions then use savepoints, so a unit of work's commit is
    real to the code under test and undone afterwards.
    """

    def __init__(
        self,
        url: URL | str,
        *,
        application_name: str,
        pool_size: int = 10,
        max_overflow: int = 10,
        bind: AsyncConnection | None = None,
    ) -> None:
        self.url = url
        self._after_commit: list[Callable[[AsyncSession], None]] = []
        if bind is not None:
            self.engine: AsyncEngine = bind.engine
            self._bind: AsyncConnection | None = bind
            self.sessionmaker = async_sessionmaker(
                bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )
            return
        self._bind = None
        self.engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=False,
            hide_parameters=True,  # statement parameters may hold documents, hashes, personal data
            pool_recycle=1800,
            json_serializer=jsonutil.dumps,
            json_deserializer=jsonutil.loads,
            connect_args={
                "server_settings": {"application_name": application_name, "timezone": "UTC"},
                "command_timeout": 60,
            },
        )
        self.sessionmaker = async_sessionmaker(bind=self.engine, expire_on_commit=False)

    def on_commit(self, callback: Callable[[AsyncSession], None]) -> None:
        """Call `callback(session)` after every successful commit (used to wake the relay)."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """The unit of work: commit on success, roll back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            for callback in self._after_commit:
                callback(session)
            for callback in session.info.pop("after_commit", ()):
                callback()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A plain connection in a transaction, for Core-level work (relay, jobs)."""
        if self._bind is not None:
            async with self._bind.begin_nested():
                yield self._bind
            return
        async with self.engine.begin() as conn:
            yield conn

    async def ping(self) -> None:
        async with self.sessionmaker() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._bind is None:
            await self.engine.dispose()


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once the unit of work of `session` committed (e.g. count a metric)."""
    session.info.setdefault("after_commit", []).append(callback)


def is_transient_db_error(exc: BaseException) -> bool:
    """A database error worth retrying: lost connection, serialization failure, deadlock."""
    if isinstance(exc, (OperationalError, InterfaceError, ConnectionError, asyncio.TimeoutError, OSError)):
        return True
    if isinstance(exc, DBAPIError):
        orig = getattr(exc.orig, "__cause__", None) or exc.orig
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate in ("40001", "40P01", "55P03", "57P01", "08006", "08003", "08001"):
            return True
        if isinstance(
            orig, (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.TooManyConnectionsError)
        ):
            return True
    return False


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: the request's unit of work. It commits before the response is sent."""
    db: Database = request.app.state.db
    async with db.transaction() as session:
        yield session


# `scope="function"` makes FastAPI run the commit before the response is sent, so a
# failed commit is answered as an error instead of a 200 for work that was lost.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def ensure_database(url: URL) -> bool:
    """Create the database of `url` when it does not exist. Returns True if created."""
    name = url.database
    assert name
    params: dict[str, Any] = {
        "user": url.username,
        "password": url.password,
        "database": "postgres",
        "host": url.query.get("host") or url.host,
        "port": url.port,
    }
    try:
        conn = await asyncpg.connect(**{k: v for k, v in params.items() if v is not None})
    except asyncpg.InvalidCatalogNameError:
        params["database"] = "template1"
        conn = await asyncpg.connect(**{k: v for k, v in params.items() if v is not None})
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        try:
            await conn.execute(f'CREATE DATABASE "{_ident(name)}"')
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            return False
        log.info("database_created", database=name)
        return True
    finally:
        await conn.close()


async def drop_database(url: URL, name: str) -> None:
    conn = await asyncpg.connect(
        **{
            k: v
            for k, v in {
                "user": url.username,
                "password": url.password,
                "database": "postgres",
                "host": url.query.get("host") or url.host,
                "port": url.port,
            }.items()
            if v is not None
        }
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{_ident(name)}" WITH (FORCE)')
    finally:
        await conn.close()


def _ident(name: str) -> str:
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"unsafe database name {name!r}")
    return name
