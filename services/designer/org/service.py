"""Rules of the organisation model: validation, soft deletion, and the `org.*` events.

Every change of a department or a user increments the row's `sequence` and writes
the matching event to the outbox in the same transaction. A PUT that changes
nothing writes no event.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.auth import ADMIN, DESIGNER, Principal
from bpm_common.errors import Conflict, Forbidden, NotFound, Unprocessable, field_error
from bpm_common.events.outbox import EventWriter
from services.designer import events as ev
from services.designer.auth.passwords import hash_password, verify_password
from services.designer.names import NAME_PATTERN, NAME_RE, SYSTEM_ROLE
from services.designer.org import repository as repo
from services.designer.org.models import Department, Position, Role, User
from services.designer.org.schemas import DepartmentIn, PasswordIn, PositionIn, RoleIn, UserIn

BUILTIN_ROLES: dict[str, str] = {
    ADMIN: "Administers the organisation, roles and running processes.",
    DESIGNER: "Models, lints and publishes process definitions.",
}
MAX_DEPARTMENT_DEPTH = 100


@dataclass(frozen=True, slots=True)
class UserView:
    user: User
    roles: list[str]


@dataclass(frozen=True, slots=True)
class RoleView:
    name: str
    description: str
    builtin: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_name(field: str, value: str) -> None:
    """422 naming `field` when `value` is not a valid key, username or role name."""
    if not NAME_RE.fullmatch(value):
        raise Unprocessable(
            f"{field} {value!r} is not valid",
            errors=[field_error(field, f"must match {NAME_PATTERN}")],
        )


# --- departments -------------------------------------------------------------------------


async def get_department(session: AsyncSession, key: str) -> Department:
    row = await repo.get_department(session, key)
    if row is None:
        raise NotFound(f"no department {key!r}")
    return row


async def list_departments(
    session: AsyncSession, *, limit: int, after: str | None
) -> Sequence[Department]:
    return await repo.department_page(session, limit=limit, after=after)


async def put_department(
    session: AsyncSession, events: EventWriter, key: str, body: DepartmentIn
) -> tuple[Department, bool]:
    """Create or replace a department; returns it and whether it was created."""
    check_name("key", key)
    errors = await _department_errors(session, key, body)
    if errors:
        raise Unprocessable("the department is not valid", errors=errors)
    row, inserted = await repo.claim_department(session, key, body.name)
    created = inserted or row.deleted_at is not None
    before = None if created else _department_data(row)
    row.name, row.parent_key, row.manager = body.name, body.parent, body.manager
    row.deleted_at = None
    if _department_data(row) != before:
        row.sequence += 1
        row.updated_at = _now()
        if created:
            row.created_at = row.updated_at
        await session.flush()
        await events.add(
            session, ev.event(ev.DEPARTMENT_UPSERTED, key, _department_data(row), row.sequence)
        )
    return row, created


async def delete_department(session: AsyncSession, events: EventWriter, key: str) -> None:
    row = await get_department(session, key)
    members = await repo.users_in_department(session, key)
    children = await repo.child_departments(session, key)
    positions = await repo.positions_in_department(session, key)
    errors = []
    if members:
        errors.append(field_error("users", f"still has members: {', '.join(members)}"))
    if positions:
        errors.append(field_error("positions", f"still has positions: {', '.join(positions)}"))
    if children:
        errors.append(
            field_error("departments", f"still has sub-departments: {', '.join(children)}")
        )
    if errors:
        raise Conflict(f"the department {key!r} is not empty", errors=errors)
    row.deleted_at = _now()
    row.sequence += 1
    await session.flush()
    await events.add(session, ev.event(ev.DEPARTMENT_DELETED, key, {"key": key}, row.sequence))


async def _department_errors(
    session: AsyncSession, key: str, body: DepartmentIn
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if body.parent is not None:
        if body.parent == key:
            errors.append(field_error("parent", "a department cannot be its own parent"))
        elif await repo.get_department(session, body.parent) is None:
            errors.append(field_error("parent", f"no department {body.parent!r}"))
        elif await _is_below(session, body.parent, key):
            errors.append(
                field_error("parent", f"{body.parent!r} is inside {key!r}; that would make a cycle")
            )
    if body.manager is not None and await repo.get_user(session, body.manager) is None:
        errors.append(field_error("manager", f"no user {body.manager!r}"))
    return errors


async def _is_below(session: AsyncSession, start: str, ancestor: str) -> bool:
    """True when `ancestor` is `start` or one of its parents."""
    current: str | None = start
    for _ in range(MAX_DEPARTMENT_DEPTH):
        if current is None:
            return False
        if current == ancestor:
            return True
        row = await repo.get_department(session, current)
        current = row.parent_key if row is not None else None
    return True  # deeper than any real organisation: treat as a cycle


def _department_data(row: Department) -> dict[str, Any]:
    return {"key": row.key, "name": row.name, "parent": row.parent_key, "manager": row.manager}


# --- users -------------------------------------------------------------------------------


async def get_user(session: AsyncSession, username: str) -> UserView:
    row = await repo.get_user(session, username)
    if row is None:
        raise NotFound(f"no user {username!r}")
    return UserView(row, (await repo.roles_of(session, [username]))[username])


async def list_users(
    session: AsyncSession,
    *,
    limit: int,
    after: str | None,
    department: str | None,
    role: str | None,
    active: bool | None,
) -> list[UserView]:
    rows = await repo.user_page(
        session, limit=limit, after=after, department=department, role=role, active=active
    )
    roles = await repo.roles_of(session, [r.username for r in rows])
    return [UserView(r, roles[r.username]) for r in rows]


async def put_user(
    session: AsyncSession, events: EventWriter, username: str, body: UserIn, *, scrypt_n: int
) -> tuple[UserView, bool]:
    """Create or replace a user (the password is kept unless the body sets one)."""
    check_name("username", username)
    errors = await user_errors(session, body)
    if errors:
        raise Unprocessable("the user is not valid", errors=errors)
    new_hash = (
        await asyncio.to_thread(hash_password, body.password, n=scrypt_n) if body.password else None
    )
    row, inserted = await repo.claim_user(session, username, body.display_name)
    created = inserted or row.deleted_at is not None
    before = (
        None if created else _user_data(row, (await repo.roles_of(session, [username]))[username])
    )
    roles = sorted(set(body.roles))
    row.display_name, row.email, row.department_key = body.display_name, body.email, body.department
    row.position_key = body.position
    row.locale, row.active, row.deleted_at = body.locale, body.active, None
    if new_hash is not None:
        row.password_hash = new_hash
    await repo.replace_roles(session, username, roles)
    data = _user_data(row, roles)
    if before is not None and (new_hash is not None or _cuts_tokens(before, data)):
        row.tokens_valid_after = _now()
    if data != before or new_hash is not None:
        row.updated_at = _now()
        if created:
            row.created_at = row.updated_at
    if data != before:
        row.sequence += 1
        await session.flush()
        await events.add(session, ev.event(ev.USER_UPSERTED, username, data, row.sequence))
    await session.flush()
    return UserView(row, roles), created


async def delete_user(session: AsyncSession, events: EventWriter, username: str) -> None:
    row = await repo.get_user(session, username, for_update=True)
    if row is None:
        raise NotFound(f"no user {username!r}")
    managed = await repo.managed_departments(session, username)
    if managed:
        raise Conflict(
            f"{username!r} manages departments; give them another manager first",
            errors=[field_error("departments", f"managed by {username!r}: {', '.join(managed)}")],
        )
    row.deleted_at = row.tokens_valid_after = _now()
    row.password_hash = None
    row.sequence += 1
    await repo.replace_roles(session, username, [])
    await session.flush()
    await events.add(
        session, ev.event(ev.USER_DELETED, username, {"username": username}, row.sequence)
    )


async def set_password(
    session: AsyncSession, principal: Principal, username: str, body: PasswordIn, *, scrypt_n: int
) -> None:
    """Administrators set anyone's password; users change their own with the current one."""
    if principal.username != username and not principal.is_admin:
        raise Forbidden("only administrators set other users' passwords")
    row = await repo.get_user(session, username, for_update=True)
    if row is None:
        raise NotFound(f"no user {username!r}")
    if not principal.is_admin:
        if body.current_password is None:
            raise Unprocessable(
                "the current password is required",
                errors=[field_error("current_password", "required to change your own password")],
            )
        if not await asyncio.to_thread(
            verify_password, body.current_password, row.password_hash, n=scrypt_n
        ):
            raise Unprocessable(
                "the current password is wrong",
                errors=[field_error("current_password", "does not match")],
            )
    row.password_hash = await asyncio.to_thread(hash_password, body.password, n=scrypt_n)
    row.updated_at = row.tokens_valid_after = _now()
    await session.flush()


async def user_errors(session: AsyncSession, body: UserIn) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if body.department is not None and await repo.get_department(session, body.department) is None:
        errors.append(field_error("department", f"no department {body.department!r}"))
    if body.position is not None and await repo.get_position(session, body.position) is None:
        errors.append(field_error("position", f"no position {body.position!r}"))
    errors.extend(await role_errors(session, "roles", body.roles))
    return errors


#: what an access token says of its user (`bpm_common.auth.TokenIssuer`): when one of
#: these changes, or the user is deactivated, the tokens issued before no longer hold
_TOKEN_CLAIMS = ("roles", "department")


def _cuts_tokens(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether a change of a user makes the tokens issued before it void."""
    deactivated = before.get("active", True) and not after.get("active", True)
    return deactivated or any(before.get(name) != after.get(name) for name in _TOKEN_CLAIMS)


def _user_data(row: User, roles: list[str]) -> dict[str, Any]:
    return {
        "username": row.username,
        "display_name": row.display_name,
        "email": row.email,
        "department": row.department_key,
        "position": row.position_key,
        "roles": list(roles),
        "locale": row.locale,
        "active": row.active,
    }


# --- positions ---------------------------------------------------------------------------


async def get_position(session: AsyncSession, key: str) -> Position:
    row = await repo.get_position(session, key)
    if row is None:
        raise NotFound(f"no position {key!r}")
    return row


async def list_positions(
    session: AsyncSession, *, limit: int, after: str | None, department: str | None
) -> Sequence[Position]:
    return await repo.position_page(session, limit=limit, after=after, department=department)


async def put_position(session: AsyncSession, key: str, body: PositionIn) -> tuple[Position, bool]:
    """Create or replace a position; users keep it across changes of its title."""
    check_name("key", key)
    if body.department is not None and await repo.get_department(session, body.department) is None:
        raise Unprocessable(
            "the position is not valid",
            errors=[field_error("department", f"no department {body.department!r}")],
        )
    row, created = await repo.claim_position(session, key, body.title)
    row.title, row.department_key, row.updated_at = body.title, body.department, _now()
    await session.flush()
    return row, created


async def delete_position(session: AsyncSession, key: str) -> None:
    row = await get_position(session, key)
    holders = await repo.users_with_position(session, key)
    if holders:
        raise Conflict(
            f"the position {key!r} is held by users",
            errors=[field_error("users", f"held by: {', '.join(holders)}")],
        )
    await session.delete(row)
    await session.flush()


# --- roles -------------------------------------------------------------------------------


async def role_errors(session: AsyncSession, field: str, names: list[str]) -> list[dict[str, Any]]:
    """Field errors (`roles[1]`, ...) for role names that are malformed, reserved or unknown."""
    errors: list[dict[str, Any]] = []
    stored = await repo.role_names(session, names)
    for index, name in enumerate(names):
        where = f"{field}[{index}]"
        if name == SYSTEM_ROLE:
            errors.append(field_error(where, "the system role is reserved for services"))
        elif not NAME_RE.fullmatch(name):
            errors.append(field_error(where, f"must match {NAME_PATTERN}"))
        elif name not in stored and name not in BUILTIN_ROLES:
            errors.append(field_error(where, f"no role {name!r}"))
    return errors


async def list_roles(session: AsyncSession, *, limit: int, after: str | None) -> list[RoleView]:
    views = {name: RoleView(name, text, True) for name, text in BUILTIN_ROLES.items()}
    for row in await repo.all_roles(session):
        views[row.name] = _role_view(row)
    names = sorted(n for n in views if after is None or n > after)
    return [views[n] for n in names[:limit]]


async def get_role(session: AsyncSession, name: str) -> RoleView:
    row = await repo.get_role(session, name)
    if row is not None:
        return _role_view(row)
    if name in BUILTIN_ROLES:
        return RoleView(name, BUILTIN_ROLES[name], True)
    raise NotFound(f"no role {name!r}")


async def put_role(session: AsyncSession, name: str, body: RoleIn) -> tuple[RoleView, bool]:
    check_name("name", name)
    if name == SYSTEM_ROLE:
        raise Unprocessable(
            "the system role is reserved", errors=[field_error("name", "reserved for services")]
        )
    row, inserted = await repo.claim_role(session, name)
    row.description = body.description
    row.updated_at = _now()
    await session.flush()
    return _role_view(row), inserted and name not in BUILTIN_ROLES


def _role_view(row: Role) -> RoleView:
    return RoleView(row.name, row.description, row.name in BUILTIN_ROLES)
