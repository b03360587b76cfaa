"""Queries on the organisation tables. Only `flush()`; the unit of work commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.designer.org.models import Department, Position, Role, User, UserRole

# --- departments -------------------------------------------------------------------------


async def get_department(
    session: AsyncSession, key: str, *, include_deleted: bool = False
) -> Department | None:
    query = select(Department).where(Department.key == key)
    if not include_deleted:
        query = query.where(Department.deleted_at.is_(None))
    return await session.scalar(query)


async def claim_department(session: AsyncSession, key: str, name: str) -> tuple[Department, bool]:
    """The department row locked for update, inserted when missing; True when it was inserted."""
    inserted = await session.scalar(
        pg_insert(Department)
        .values(key=key, name=name, sequence=0)
        .on_conflict_do_nothing()
        .returning(Department.key)
    )
    row = await session.scalar(
        select(Department)
        .where(Department.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row, inserted is not None


async def department_page(
    session: AsyncSession, *, limit: int, after: str | None
) -> Sequence[Department]:
    query = select(Department).where(Department.deleted_at.is_(None))
    if after is not None:
        query = query.where(Department.key > after)
    return (await session.scalars(query.order_by(Department.key).limit(limit))).all()


async def child_departments(session: AsyncSession, key: str) -> Sequence[str]:
    query = select(Department.key).where(
        Department.parent_key == key, Department.deleted_at.is_(None)
    )
    return (await session.scalars(query.order_by(Department.key))).all()


async def managed_departments(session: AsyncSession, username: str) -> Sequence[str]:
    query = select(Department.key).where(
        Department.manager == username, Department.deleted_at.is_(None)
    )
    return (await session.scalars(query.order_by(Department.key))).all()


async def positions_in_department(session: AsyncSession, key: str) -> Sequence[str]:
    query = select(Position.key).where(Position.department_key == key)
    return (await session.scalars(query.order_by(Position.key).limit(20))).all()


async def ancestors(session: AsyncSession, key: str, limit: int) -> list[Department]:
    """The department `key` and its parents, nearest first (at most `limit`)."""
    found: list[Department] = []
    current: str | None = key
    while current is not None and len(found) < limit:
        row = await get_department(session, current)
        if row is None:
            break
        found.append(row)
        current = row.parent_key
    return found


# --- positions ---------------------------------------------------------------------------


async def get_position(session: AsyncSession, key: str) -> Position | None:
    return await session.scalar(select(Position).where(Position.key == key))


async def claim_position(session: AsyncSession, key: str, title: str) -> tuple[Position, bool]:
    inserted = await session.scalar(
        pg_insert(Position)
        .values(key=key, title=title)
        .on_conflict_do_nothing()
        .returning(Position.key)
    )
    row = await session.scalar(
        select(Position)
        .where(Position.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row, inserted is not None


async def position_page(
    session: AsyncSession, *, limit: int, after: str | None, department: str | None
) -> Sequence[Position]:
    query = select(Position)
    if department is not None:
        query = query.where(Position.department_key == department)
    if after is not None:
        query = query.where(Position.key > after)
    return (await session.scalars(query.order_by(Position.key).limit(limit))).all()


async def users_with_position(session: AsyncSession, key: str) -> Sequence[str]:
    query = select(User.username).where(User.position_key == key, User.deleted_at.is_(None))
    return (await session.scalars(query.order_by(User.username).limit(20))).all()


# --- users -------------------------------------------------------------------------------


async def get_user(
    session: AsyncSession,
    username: str,
    *,
    for_update: bool = False,
    for_share: bool = False,
    include_deleted: bool = False,
) -> User | None:
    query = select(User).where(User.username == username)
    if not include_deleted:
        query = query.where(User.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update()
    elif for_share:
        query = query.with_for_update(read=True)
    return await session.scalar(query)


async def claim_user(session: AsyncSession, username: str, display_name: str) -> tuple[User, bool]:
    """The user row locked for update, inserted when missing; True when it was inserted."""
    inserted = await session.scalar(
        pg_insert(User)
        .values(username=username, display_name=display_name, sequence=0)
        .on_conflict_do_nothing()
        .returning(User.username)
    )
    row = await session.scalar(
        select(User)
        .where(User.username == username)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row, inserted is not None


async def user_page(
    session: AsyncSession,
    *,
    limit: int,
    after: str | None,
    department: str | None,
    role: str | None,
    active: bool | None,
) -> Sequence[User]:
    query = select(User).where(User.deleted_at.is_(None))
    if department is not None:
        query = query.where(User.department_key == department)
    if role is not None:
        query = query.where(
            User.username.in_(select(UserRole.username).where(UserRole.role == role))
        )
    if active is not None:
        query = query.where(User.active.is_(active))
    if after is not None:
        query = query.where(User.username > after)
    return (await session.scalars(query.order_by(User.username).limit(limit))).all()


async def users_in_department(session: AsyncSession, key: str) -> Sequence[str]:
    query = select(User.username).where(User.department_key == key, User.deleted_at.is_(None))
    return (await session.scalars(query.order_by(User.username).limit(20))).all()


async def roles_of(session: AsyncSession, usernames: Iterable[str]) -> dict[str, list[str]]:
    names = list(usernames)
    result: dict[str, list[str]] = {name: [] for name in names}
    if not names:
        return result
    rows = await session.execute(
        select(UserRole.username, UserRole.role)
        .where(UserRole.username.in_(names))
        .order_by(UserRole.role)
    )
    for username, role in rows:
        result[username].append(role)
    return result


async def replace_roles(session: AsyncSession, username: str, roles: Iterable[str]) -> None:
    await session.execute(delete(UserRole).where(UserRole.username == username))
    values = [{"username": username, "role": role} for role in sorted(set(roles))]
    if values:
        await session.execute(insert(UserRole), values)


# --- roles -------------------------------------------------------------------------------


async def get_role(session: AsyncSession, name: str) -> Role | None:
    return await session.scalar(select(Role).where(Role.name == name))


async def role_names(session: AsyncSession, names: Iterable[str]) -> set[str]:
    wanted = list(set(names))
    if not wanted:
        return set()
    return set((await session.scalars(select(Role.name).where(Role.name.in_(wanted)))).all())


async def all_roles(session: AsyncSession) -> Sequence[Role]:
    return (await session.scalars(select(Role).order_by(Role.name))).all()


async def claim_role(session: AsyncSession, name: str) -> tuple[Role, bool]:
    inserted = await session.scalar(
        pg_insert(Role)
        .values(name=name, description="")
        .on_conflict_do_nothing()
        .returning(Role.name)
    )
    row = await session.scalar(
        select(Role)
        .where(Role.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row, inserted is not None


async def holders_of(
    session: AsyncSession, role: str, *, department: str | None = None
) -> list[str]:
    """Active users holding `role` (only members of `department` when given)."""
    query = (
        select(User.username)
        .join(UserRole, UserRole.username == User.username)
        .where(UserRole.role == role, User.deleted_at.is_(None), User.active.is_(True))
    )
    if department is not None:
        query = query.where(User.department_key == department)
    return list((await session.scalars(query.order_by(User.username))).all())
