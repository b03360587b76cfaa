"""Task queries: the inbox reads only open tasks through partial indexes."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.db import read_connection
from services.runtime.tasks.models import tasks

COLUMNS = (
    tasks.c.id, tasks.c.instance_id, tasks.c.definition_key, tasks.c.definition_version, tasks.c.node_id,
    tasks.c.name, tasks.c.assignee, tasks.c.candidate_users, tasks.c.candidate_roles, tasks.c.due_at,
    tasks.c.priority, tasks.c.form_key, tasks.c.state, tasks.c.created_at, tasks.c.completed_at,
    tasks.c.completed_by, tasks.c.comment, tasks.c.owner, tasks.c.delegation_state, tasks.c.last_urged_at,
    tasks.c.time_limit, tasks.c.escalation_level,
)


# The inbox is the most frequent request of all: plain SQL on the unit of work's
# connection (see `bpm_common.db.read_connection`), one text per combination of
# filters (asyncpg keeps each prepared). The open-task variant names `state = 'open'`
# literally, so the planner can use the partial indexes even with a generic plan.
# The tasks of one instance are few: they are read through the instance's index first
# (a partial index full of rows completed since the last vacuum looks empty to the
# planner, and scanning it instead costs milliseconds).
_COLUMNS = ", ".join(column.name for column in COLUMNS)
_OF_INSTANCE = "WITH instance_tasks AS MATERIALIZED (SELECT * FROM tasks WHERE instance_id = {}) "
_FILTERS = ("definition_key", "node_id")
#: offered to the user or to a role they hold: the token's roles ($2) and the roles
#: the organisation copy gives them, read in the same statement
_WORKABLE = (
    "(assignee = $1 OR (assignee IS NULL AND ($1 = ANY(candidate_users) OR candidate_roles && ($2::varchar[] || "
    "COALESCE((SELECT roles FROM org_users WHERE username = $1 AND active AND NOT deleted), '{}')))))"
)


@functools.cache
def _list_sql(state: str, mine: bool, instance: bool, filters: tuple[str, ...], after: bool) -> str:
    """The inbox query for one combination of options; parameters in the order
    `list_tasks` passes them: ($1 username, $2 roles when listing open tasks of the user),
    the instance, the other filters, (created_at, id) of the cursor, the limit."""
    params: list[str] = []

    def param(cast: str = "") -> str:
        params.append(cast)
        return f"${len(params)}{cast}"

    if state == "open":
        where = ["state = 'open'"]
        if mine:
            param(), param()
            where.append(_WORKABLE)
    else:
        where = [f"state = {param()}"]
        if mine:
            where.append(f"completed_by = {param()}")
    prefix, source = (_OF_INSTANCE.format(param("::uuid")), "instance_tasks") if instance else ("", "tasks")
    where += [f"{name} = {param()}" for name in filters]
    if after:
        at, task_id = param("::timestamptz"), param("::uuid")
        where.append(f"(created_at > {at} OR (created_at = {at} AND id > {task_id}))")
    return (
        f"{prefix}SELECT {_COLUMNS} FROM {source} WHERE {' AND '.join(where)}"  # noqa: S608 - fixed fragments only
        f" ORDER BY created_at, id LIMIT {param('::int')}"
    )


async def list_tasks(
    session: AsyncSession,
    username: str,
    token_roles: frozenset[str],
    *,
    state: str,
    everyone: bool,
    instance_id: UUID | None,
    definition_key: str | None,
    node_id: str | None,
    after: tuple[dt.datetime, UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Tasks in `state`, oldest first, at most `limit + 1` (one more tells there is a next page).

    Unless `everyone`: open tasks the user may work (assigned to them, or unassigned and
    offered to them or to one of their roles: `token_roles` and the organisation's), or
    the tasks in `state` they completed.
    """
    values = {"definition_key": definition_key, "node_id": node_id}
    filters = tuple(name for name in _FILTERS if values[name])
    args: list[Any] = []
    mine = not everyone
    if state == "open":
        if mine:
            args += [username, sorted(token_roles)]
    else:
        args.append(state)
        if mine:
            args.append(username)
    if instance_id:
        args.append(instance_id)
    args += [values[name] for name in filters]
    if after:
        args += [after[0], after[1]]
    args.append(limit + 1)
    # a read that locks nothing: no BEGIN/COMMIT round trips when it is all the request does
    connection = await read_connection(session)
    rows = await connection.fetch(_list_sql(state, mine, bool(instance_id), filters, after is not None), *args)
    return [view(r) for r in rows]


async def get_task(session: AsyncSession, task_id: UUID) -> dict[str, Any] | None:
    row = (await session.execute(select(*COLUMNS).where(tasks.c.id == task_id))).mappings().first()
    return view(row) if row else None


def view(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["id"] = str(out["id"])
    out["instance_id"] = str(out["instance_id"])
    out["candidate_users"] = list(out["candidate_users"] or [])
    out["candidate_roles"] = list(out["candidate_roles"] or [])
    return out
