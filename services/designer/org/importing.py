"""Bulk import of users from CSV, row by row, with a report of the rows refused.

Columns (header required; only `username` and `display_name` must be present):
`username, display_name, email, department, position, roles, manager_of, locale`.
`roles` and `manager_of` hold several names separated by semicolons. A column that
is left out of the header keeps the stored value of existing users (so a file
without `roles` does not take anyone's roles away); a column that is present sets
it, an empty cell clearing it.

Each row is its own savepoint: a refused row changes nothing, the good rows are
imported and emit their `org.user.upserted` (and `org.department.upserted` for
`manager_of`) events. `dry_run` checks every row and writes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import DomainError, Unprocessable, field_error
from bpm_common.events.outbox import EventWriter
from services.designer.names import NAME_PATTERN, NAME_RE
from services.designer.org import repository as repo
from services.designer.org import service
from services.designer.org.schemas import (
    DepartmentIn,
    ImportCounts,
    ImportReport,
    RejectedRow,
    UserIn,
)

COLUMNS = (
    "username",
    "display_name",
    "email",
    "department",
    "position",
    "roles",
    "manager_of",
    "locale",
)
REQUIRED = ("username", "display_name")
MAX_ROWS = 10_000


@dataclass
class _Row:
    line: int
    cells: dict[str, str]
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def username(self) -> str:
        return self.cells.get("username", "").strip().lower()


async def import_users(
    session: AsyncSession,
    events: EventWriter,
    data: bytes,
    *,
    dry_run: bool,
    scrypt_n: int,
) -> ImportReport:
    rows, columns = _read(data)
    counts = ImportCounts()
    rejected: list[RejectedRow] = []
    seen: dict[str, int] = {}
    for row in rows:
        if row.username in seen:
            row.errors.append(
                field_error("username", f"already imported on line {seen[row.username]}")
            )
        elif row.username:
            seen[row.username] = row.line
        body = await _body(session, row, columns)
        managed = _names(row.cells.get("manager_of", "")) if "manager_of" in columns else []
        for key in managed:
            if await repo.get_department(session, key) is None:
                row.errors.append(field_error("manager_of", f"no department {key!r}"))
        if body is not None:
            row.errors.extend(await service.user_errors(session, body))
        if row.errors or body is None:
            rejected.append(
                RejectedRow(row=row.line, username=row.username or None, errors=row.errors)
            )
            continue
        if dry_run:
            exists = await repo.get_user(session, row.username) is not None
            counts.updated += int(exists)
            counts.created += int(not exists)
            counts.managers_set += len(managed)
            continue
        try:
            async with session.begin_nested():
                await _write(session, events, row.username, body, managed, counts, scrypt_n)
        except DomainError as exc:
            errors = exc.errors or [field_error("", exc.detail)]
            rejected.append(RejectedRow(row=row.line, username=row.username, errors=errors))
    return ImportReport(dry_run=dry_run, rows=len(rows), imported=counts, rejected=rejected)


def _read(data: bytes) -> tuple[list[_Row], set[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unprocessable(
            "the file is not UTF-8 text", errors=[field_error("body", "save the CSV as UTF-8")]
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise Unprocessable(
            "the file is empty", errors=[field_error("body", "no header")]
        ) from None
    except csv.Error as exc:
        raise Unprocessable("not CSV", errors=[field_error("body", str(exc))]) from None
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    problems = [field_error(f"header.{h}", "unknown column") for h in unknown]
    problems += [field_error(f"header.{c}", "required column is missing") for c in missing]
    problems += [field_error(f"header.{h}", "column appears twice") for h in duplicated]
    if problems:
        raise Unprocessable(
            f"the header must name columns of {', '.join(COLUMNS)}", errors=problems
        )
    rows: list[_Row] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise Unprocessable(
                    f"at most {MAX_ROWS} rows per file",
                    errors=[field_error("body", f"more than {MAX_ROWS} rows")],
                )
            row = _Row(reader.line_num, dict(zip(header, cells, strict=False)))
            if len(cells) != len(header):
                row.errors.append(
                    field_error("", f"{len(cells)} cells, the header has {len(header)} columns")
                )
            rows.append(row)
    except csv.Error as exc:
        raise Unprocessable(
            "the file is not valid CSV",
            errors=[field_error("body", f"line {reader.line_num}: {exc}")],
        ) from None
    return rows, set(header)


async def _body(session: AsyncSession, row: _Row, columns: set[str]) -> UserIn | None:
    """The user as the row describes it, merged with the stored user for absent columns."""
    if not NAME_RE.fullmatch(row.username):
        row.errors.append(field_error("username", f"must match {NAME_PATTERN}"))
        return None
    current = await repo.get_user(session, row.username)
    stored_roles = (await repo.roles_of(session, [row.username]))[row.username] if current else []
    values: dict[str, Any] = {
        "display_name": row.cells.get("display_name", "").strip(),
        "email": current.email if current else None,
        "department": current.department_key if current else None,
        "position": current.position_key if current else None,
        "roles": stored_roles,
        "locale": current.locale if current else "en",
        "active": current.active if current else True,
    }
    for column in ("email", "department", "position", "locale"):
        if column in columns:
            values[column] = row.cells.get(column, "").strip() or None
    if values["locale"] is None:
        values["locale"] = "en"
    if "roles" in columns:
        values["roles"] = _names(row.cells.get("roles", ""))
    try:
        return UserIn(**values)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()))
            row.errors.append(field_error(where, error.get("msg", "invalid")))
    # the references are checked too, so the row's report is complete
    unchecked = UserIn.model_construct(**values)
    row.errors.extend(await service.user_errors(session, unchecked))
    return None


async def _write(
    session: AsyncSession,
    events: EventWriter,
    username: str,
    body: UserIn,
    managed: list[str],
    counts: ImportCounts,
    scrypt_n: int,
) -> None:
    before = await repo.get_user(session, username)
    sequence = before.sequence if before is not None else None
    view, created = await service.put_user(session, events, username, body, scrypt_n=scrypt_n)
    if created:
        counts.created += 1
    elif view.user.sequence != sequence:
        counts.updated += 1
    else:
        counts.unchanged += 1
    for key in managed:
        department = await service.get_department(session, key)
        if department.manager != username:
            change = DepartmentIn(
                name=department.name, parent=department.parent_key, manager=username
            )
            await service.put_department(session, events, key, change)
            counts.managers_set += 1


def _names(cell: str) -> list[str]:
    return [name.strip() for name in cell.split(";") if name.strip()]
