"""Database engine, sessions and the one commit point per unit of work.

Services and repositories only `flush()`. The unit of work (an HTTP request,
an event handler, a job) opens `Database.transaction()`, and that context
commits when the work succeeded or rolls back when it raised. After a commit
that wrote outbox rows, the outbox relay is woken.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import JSON, MetaData, Table, TypeDecorator, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session

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

    `custom_plans`: PostgreSQL plans every execution of a prepared statement for its
    parameters and the tables' current sizes (`plan_cache_mode=force_custom_plan`)
    instead of keeping, after five runs, a generic plan made when the tables may have
    been nearly empty. For services whose statements join arrays of a batch against
    tables that grow (the event consumers): a generic plan made on a fresh database
    keeps scanning those tables whole, at a cost that grows with every row, until
    asyncpg prepares the statement again (after five minutes).
    """

    def __init__(
        self,
        url: URL | str,
        *,
        application_name: str,
        pool_size: int = 10,
        max_overflow: int = 10,
        bind: AsyncConnection | None = None,
        custom_plans: bool = False,
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
                "server_settings": {
                    "application_name": application_name,
                    "timezone": "UTC",
                    **({"plan_cache_mode": "force_custom_plan"} if custom_plans else {}),
                },
                "command_timeout": 60,
            },
        )
        self.sessionmaker = async_sessionmaker(bind=self.engine, expire_on_commit=False)

    @property
    def bound(self) -> bool:
        """Whether every unit of work runs inside one outer connection (tests that roll back)."""
        return self._bind is not None

    def on_commit(self, callback: Callable[[AsyncSession], None]) -> None:
        """Call `callback(session)` after every successful commit (used to wake the relay)."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """The unit of work: commit on success, roll back on error; the session is closed."""
        session = self.sessionmaker()
        try:
            yield session
            for callback in session.info.pop("before_commit", ()):
                await callback()
            # commit and close in one switch into SQLAlchemy's greenlet (every request ends here)
            await session.run_sync(_commit_and_close)
        except BaseException:
            await asyncio.shield(_roll_back_and_close(session))  # also when the request is cancelled
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

    @asynccontextmanager
    async def driver_transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction straight on an asyncpg connection of the pool, for a background loop
        that runs only plain SQL (the outbox relay): SQLAlchemy's begin and commit cost more
        CPU than the loop's statements."""
        if self._bind is not None:
            async with self.connection() as conn:
                yield await connection_driver(conn)
            return
        async with self.engine.connect() as conn:
            driver: asyncpg.Connection = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
            try:
                async with driver.transaction():
                    yield driver
            except BaseException:
                if driver.is_closed():  # SQLAlchemy did not see the error: keep a lost connection out of the pool
                    await conn.invalidate()
                raise

    async def ping(self) -> None:
        async with self.sessionmaker() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._bind is None:
            await self.engine.dispose()


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection of `session`'s unit of work, inside its transaction.

    For a service's hot path: SQLAlchemy builds, caches, compiles and post-processes a
    statement on every call (about 0.2 ms of CPU each, several times what asyncpg needs
    to run it), so the few statements every request runs are plain SQL sent to asyncpg
    on the session's own connection (asyncpg keeps them prepared). They share the
    session's transaction (a savepoint in tests), commit and roll back with it. JSON
    and JSONB parameters are passed as JSON text (`jsonutil.dumps`); JSON results come
    back parsed by `jsonutil.loads`, as through SQLAlchemy.
    """
    adapted = await _adapted_connection(session)
    if adapted._transaction is None and not adapted.autocommit:
        # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement
        await adapted._start_transaction()
    return adapted.driver_connection


async def read_connection(session: AsyncSession) -> asyncpg.Connection:
    """Like `driver_connection`, for a statement that only reads and locks nothing.

    While the unit of work has not begun a transaction on the server, the statement
    runs on its own: it sees the committed data, as it would as the first statement of
    a READ COMMITTED transaction, and a request that only reads saves the BEGIN and
    COMMIT round trips. Once the unit of work began its transaction the statement runs
    inside it.
    """
    return (await _adapted_connection(session)).driver_connection


async def _adapted_connection(session: AsyncSession) -> Any:
    """SQLAlchemy's adapter around the asyncpg connection of the session's transaction
    (remembered for the session's current transaction: no greenlet switch per statement)."""
    sync_session = session.sync_session
    transaction = sync_session.get_transaction()
    cached = session.info.get(_DRIVER)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]
    connection = await session.connection()
    adapted = connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
    session.info[_DRIVER] = (sync_session.get_transaction(), adapted)
    return adapted


async def connection_driver(connection: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `connection`, inside its transaction (see `driver_connection`)."""
    adapted: Any = connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
    if adapted._transaction is None and not adapted.autocommit:
        await adapted._start_transaction()
    return adapted.driver_connection


_DRIVER = "bpm_driver_connection"


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT `rows` (column name -> value) into `table` through `driver_connection`.

    The fast twin of `session.execute(insert(table), rows)` for hot paths, with the same
    meaning: a column a row leaves out gets its server default, and a JSON column's
    None is stored as JSON `null`. Rows with the same columns go in one round trip.
    """
    if not rows:
        return
    batch = WriteBatch(session)
    await batch.insert(table, rows)
    await batch.flush()


class WriteBatch:
    """Writes of a unit of work sent to PostgreSQL together, as one statement.

    Every statement costs a round trip and its share of work on both sides; a command
    that writes five tables at its end sends them as the data-modifying WITH clauses
    of one statement (`WITH w0 AS (INSERT ...), w1 AS (UPDATE ...) SELECT 1`). The
    clauses of one statement all see the data as it was before it, so a batch never
    holds two writes where the second would have seen the first: an UPDATE or DELETE
    of a table the batch already writes sends the batch first (`change`). An INSERT
    after a change of the same table, or a change before an INSERT, means the same in
    one statement as in two.

    Parts use their own `$1, $2, ...` (and no other `$`); the batch renumbers them. Rows follow
    `insert_rows`: a left-out column gets its server default, JSON values are sent as
    JSON text (a None as JSON `null`). Rows keep their order (identity columns count
    up in it).
    """

    MAX_PARAMETERS = 30_000
    """Bind parameters per statement at most (PostgreSQL allows 65 535)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._parts: list[str] = []
        self._args: list[Any] = []
        self._tables: set[str] = set()

    async def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue an INSERT of `rows` (column name -> value) into `table`."""
        groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(row)
        for columns, group in groups.items():
            json_columns = _json_columns(table, columns)
            per_chunk = max(1, self.MAX_PARAMETERS // len(columns))
            for start in range(0, len(group), per_chunk):
                chunk = group[start : start + per_chunk]
                args = [
                    jsonutil.dumps(row[name]) if name in json_columns else row[name]
                    for row in chunk
                    for name in columns
                ]
                await self._add(table.name, _insert_values(table, columns, len(chunk)), args)

    async def change(self, table: str, sql: str, *args: Any) -> None:
        """Queue an UPDATE or DELETE `sql` of `table` (parameters `$1, $2, ...` are `args`)."""
        if table in self._tables:
            await self.flush()
        await self._add(table, sql, list(args))

    async def flush(self) -> None:
        """Send what is queued (nothing when the batch is empty)."""
        if not self._parts:
            return
        parts, args = self._parts, self._args
        self._parts, self._args, self._tables = [], [], set()
        if len(parts) == 1:
            sql = parts[0]
        else:
            sql = "WITH " + ", ".join(f"w{n} AS ({part})" for n, part in enumerate(parts)) + " SELECT 1"
        await (await driver_connection(self.session)).execute(sql, *args)

    async def _add(self, table: str, sql: str, args: list[Any]) -> None:
        if self._args and len(self._args) + len(args) > self.MAX_PARAMETERS:
            await self.flush()
        self._parts.append(_renumbered(sql, len(self._args)) if self._args else sql)
        self._args += args
        self._tables.add(table)


_PARAMETER = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=1024)
def _renumbered(sql: str, offset: int) -> str:
    """`sql` with its parameters `$n` moved up by `offset`."""
    return _PARAMETER.sub(lambda match: f"${int(match.group(1)) + offset}", sql)


@functools.lru_cache(maxsize=1024)
def _insert_values(table: Table, columns: tuple[str, ...], rows: int) -> str:
    """`INSERT INTO table (columns) VALUES ($1, ...), (...)` for `rows` rows."""
    width = len(columns)
    values = ", ".join("(" + ", ".join(f"${row * width + n}" for n in range(1, width + 1)) + ")" for row in range(rows))
    return f"{_insert_into(table, columns)[0]} VALUES {values}"


@functools.cache
def _insert_into(table: Table, columns: tuple[str, ...]) -> tuple[str, frozenset[str]]:
    """`INSERT INTO table (columns)`, and which of the columns are JSON (sent as JSON text)."""
    quote = _POSTGRES.identifier_preparer
    for name in columns:
        if isinstance(table.c[name].type, TypeDecorator):
            raise TypeError(f"{table.name}.{name}: a TypeDecorator's conversions would be skipped")
    head = f"INSERT INTO {quote.format_table(table)} ({', '.join(quote.quote(name) for name in columns)})"
    return head, frozenset(name for name in columns if isinstance(table.c[name].type, JSON))


def _json_columns(table: Table, columns: tuple[str, ...]) -> frozenset[str]:
    return _insert_into(table, columns)[1]


_POSTGRES = postgresql.dialect()


def _commit_and_close(session: Session) -> None:
    session.commit()
    session.close()


async def _roll_back_and_close(session: AsyncSession) -> None:
    try:
        await session.rollback()
    finally:
        await session.close()


def before_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Await `callback()` when the unit of work of `session` has done its work and is about to
    commit, inside its transaction (e.g. write what a batch of events queued)."""
    session.info.setdefault("before_commit", []).append(callback)


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once the unit of work of `session` committed (e.g. count a metric)."""
    session.info.setdefault("after_commit", []).append(callback)


_TRANSIENT_DRIVER_ERRORS = (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.TooManyConnectionsError)
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "08006", "08003", "08001"})


def is_transient_db_error(exc: BaseException) -> bool:
    """A database error worth retrying: lost connection, serialization failure, deadlock."""
    if isinstance(exc, (OperationalError, InterfaceError, ConnectionError, asyncio.TimeoutError, OSError)):
        return True
    if isinstance(exc, _TRANSIENT_DRIVER_ERRORS):
        return True
    if isinstance(exc, asyncpg.PostgresError):  # raised by statements sent to asyncpg directly
        return exc.sqlstate in _TRANSIENT_SQLSTATES
    if isinstance(exc, DBAPIError):
        orig = getattr(exc.orig, "__cause__", None) or exc.orig
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate in _TRANSIENT_SQLSTATES:
            return True
        if isinstance(orig, _TRANSIENT_DRIVER_ERRORS):
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
