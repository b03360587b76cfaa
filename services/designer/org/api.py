"""`/api/v1/org`: departments, positions, users, roles, CSV import and the assignment preview.

Writes need `admin`; reads any signed-in user.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request, Response, status

from bpm_common.auth import ADMIN, CurrentPrincipal, require_roles
from bpm_common.db import SessionDep
from bpm_common.http import api_router
from services.designer.bodies import read_body
from services.designer.deps import EventsDep, SettingsDep
from services.designer.org import importing, resolution, service
from services.designer.org.models import Department, Position
from services.designer.org.schemas import (
    DepartmentIn,
    DepartmentOut,
    DepartmentPage,
    ImportReport,
    PasswordIn,
    PositionIn,
    PositionOut,
    PositionPage,
    ResolveOut,
    RoleIn,
    RoleOut,
    RolePage,
    UserIn,
    UserOut,
    UserPage,
)
from services.designer.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    decode_cursor,
    encode_cursor,
)

router = api_router(prefix="/api/v1/org", tags=["organisation"])

AdminOnly = require_roles(ADMIN, allow_system=False)
KeyPath = Annotated[str, Path(max_length=64, description="Department key.")]
UsernamePath = Annotated[str, Path(max_length=64)]
RolePath = Annotated[str, Path(max_length=64)]


# --- departments -------------------------------------------------------------------------


@router.get("/departments", response_model=DepartmentPage, summary="List departments")
async def list_departments(
    session: SessionDep,
    _: CurrentPrincipal,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> DepartmentPage:
    after = decode_cursor(cursor, "key")
    rows = await service.list_departments(
        session, limit=limit, after=after["key"] if after else None
    )
    next_cursor = encode_cursor({"key": rows[-1].key}) if len(rows) == limit else None
    return DepartmentPage(items=[_department(r) for r in rows], next_cursor=next_cursor)


@router.get("/departments/{key}", response_model=DepartmentOut, summary="One department")
async def get_department(key: KeyPath, session: SessionDep, _: CurrentPrincipal) -> DepartmentOut:
    return _department(await service.get_department(session, key))


@router.put(
    "/departments/{key}",
    response_model=DepartmentOut,
    summary="Create or replace a department",
    responses={201: {"model": DepartmentOut, "description": "Created"}},
    dependencies=[AdminOnly],
)
async def put_department(
    key: KeyPath, body: DepartmentIn, session: SessionDep, events: EventsDep, response: Response
) -> DepartmentOut:
    row, created = await service.put_department(session, events, key, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _department(row)


@router.delete(
    "/departments/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an empty department",
    dependencies=[AdminOnly],
)
async def delete_department(key: KeyPath, session: SessionDep, events: EventsDep) -> Response:
    await service.delete_department(session, events, key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- positions ---------------------------------------------------------------------------


@router.get("/positions", response_model=PositionPage, summary="List positions")
async def list_positions(
    session: SessionDep,
    _: CurrentPrincipal,
    department: Annotated[str | None, Query(max_length=64)] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> PositionPage:
    after = decode_cursor(cursor, "key")
    rows = await service.list_positions(
        session, limit=limit, after=after["key"] if after else None, department=department
    )
    next_cursor = encode_cursor({"key": rows[-1].key}) if len(rows) == limit else None
    return PositionPage(items=[_position(r) for r in rows], next_cursor=next_cursor)


@router.get("/positions/{key}", response_model=PositionOut, summary="One position")
async def get_position(key: KeyPath, session: SessionDep, _: CurrentPrincipal) -> PositionOut:
    return _position(await service.get_position(session, key))


@router.put(
    "/positions/{key}",
    response_model=PositionOut,
    summary="Create or replace a position",
    responses={201: {"model": PositionOut, "description": "Created"}},
    dependencies=[AdminOnly],
)
async def put_position(
    key: KeyPath, body: PositionIn, session: SessionDep, response: Response
) -> PositionOut:
    row, created = await service.put_position(session, key, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _position(row)


@router.delete(
    "/positions/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a position nobody holds",
    dependencies=[AdminOnly],
)
async def delete_position(key: KeyPath, session: SessionDep) -> Response:
    await service.delete_position(session, key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- bulk import and preview -------------------------------------------------------------


@router.post(
    "/import",
    response_model=ImportReport,
    summary="Import users from CSV, row by row, with the rows refused and why",
    description=(
        "Columns: " + ", ".join(importing.COLUMNS) + ". `roles` and `manager_of` hold "
        "names separated by semicolons. A column left out of the header keeps the stored "
        "value of existing users. With `dry_run=true` nothing is written."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    dependencies=[AdminOnly],
)
async def import_users(
    request: Request,
    session: SessionDep,
    events: EventsDep,
    settings: SettingsDep,
    dry_run: bool = False,
) -> ImportReport:
    data = await read_body(request, {"text/csv"}, settings.max_import_bytes, what="CSV file")
    return await importing.import_users(
        session, events, data, dry_run=dry_run, scrypt_n=settings.password_scrypt_n
    )


@router.get(
    "/resolve",
    response_model=ResolveOut,
    summary="Who assignment rules name today (preview of bpm:assignment)",
)
async def resolve(
    session: SessionDep,
    _: CurrentPrincipal,
    rules: Annotated[
        str, Query(min_length=1, max_length=2000, examples=["manager:2, role:cashier"])
    ],
    initiator: Annotated[str | None, Query(max_length=64)] = None,
) -> ResolveOut:
    return await resolution.resolve(session, rules, initiator)


# --- users -------------------------------------------------------------------------------


@router.get("/users", response_model=UserPage, summary="List users")
async def list_users(
    session: SessionDep,
    _: CurrentPrincipal,
    department: Annotated[str | None, Query(max_length=64)] = None,
    role: Annotated[str | None, Query(max_length=64)] = None,
    active: bool | None = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> UserPage:
    after = decode_cursor(cursor, "username")
    views = await service.list_users(
        session,
        limit=limit,
        after=after["username"] if after else None,
        department=department,
        role=role,
        active=active,
    )
    next_cursor = (
        encode_cursor({"username": views[-1].user.username}) if len(views) == limit else None
    )
    return UserPage(items=[_user(v) for v in views], next_cursor=next_cursor)


@router.get("/users/{username}", response_model=UserOut, summary="One user")
async def get_user(username: UsernamePath, session: SessionDep, _: CurrentPrincipal) -> UserOut:
    return _user(await service.get_user(session, username))


@router.put(
    "/users/{username}",
    response_model=UserOut,
    summary="Create or replace a user",
    responses={201: {"model": UserOut, "description": "Created"}},
    dependencies=[AdminOnly],
)
async def put_user(
    username: UsernamePath,
    body: UserIn,
    session: SessionDep,
    events: EventsDep,
    settings: SettingsDep,
    response: Response,
) -> UserOut:
    view, created = await service.put_user(
        session, events, username, body, scrypt_n=settings.password_scrypt_n
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _user(view)


@router.delete(
    "/users/{username}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a user",
    dependencies=[AdminOnly],
)
async def delete_user(username: UsernamePath, session: SessionDep, events: EventsDep) -> Response:
    await service.delete_user(session, events, username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/users/{username}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a password (administrators) or change one's own (with the current password)",
)
async def set_password(
    username: UsernamePath,
    body: PasswordIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> Response:
    await service.set_password(
        session, principal, username, body, scrypt_n=settings.password_scrypt_n
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- roles -------------------------------------------------------------------------------


@router.get("/roles", response_model=RolePage, summary="List roles")
async def list_roles(
    session: SessionDep,
    _: CurrentPrincipal,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> RolePage:
    after = decode_cursor(cursor, "name")
    views = await service.list_roles(session, limit=limit, after=after["name"] if after else None)
    next_cursor = encode_cursor({"name": views[-1].name}) if len(views) == limit else None
    return RolePage(
        items=[RoleOut(name=v.name, description=v.description, builtin=v.builtin) for v in views],
        next_cursor=next_cursor,
    )


@router.get("/roles/{name}", response_model=RoleOut, summary="One role")
async def get_role(name: RolePath, session: SessionDep, _: CurrentPrincipal) -> RoleOut:
    view = await service.get_role(session, name)
    return RoleOut(name=view.name, description=view.description, builtin=view.builtin)


@router.put(
    "/roles/{name}",
    response_model=RoleOut,
    summary="Create a role or change its description",
    responses={201: {"model": RoleOut, "description": "Created"}},
    dependencies=[AdminOnly],
)
async def put_role(
    name: RolePath, body: RoleIn, session: SessionDep, response: Response
) -> RoleOut:
    view, created = await service.put_role(session, name, body)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return RoleOut(name=view.name, description=view.description, builtin=view.builtin)


def _department(row: Department) -> DepartmentOut:
    return DepartmentOut(
        key=row.key,
        name=row.name,
        parent=row.parent_key,
        manager=row.manager,
        updated_at=row.updated_at,
    )


def _user(view: service.UserView) -> UserOut:
    u = view.user
    return UserOut(
        username=u.username,
        display_name=u.display_name,
        email=u.email,
        department=u.department_key,
        position=u.position_key,
        roles=view.roles,
        locale=u.locale,  # type: ignore[arg-type]
        active=u.active,
        has_password=u.password_hash is not None,
        updated_at=u.updated_at,
    )


def _position(row: Position) -> PositionOut:
    return PositionOut(
        key=row.key, title=row.title, department=row.department_key, updated_at=row.updated_at
    )
