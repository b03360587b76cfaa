"""Commands on instances: each locks the instance row, runs the pure engine, applies the result.

A command runs in the caller's unit of work: the instance row is locked
(`SELECT … FOR UPDATE`, so two replicas never advance one instance at once),
the engine computes the next state from the stored one, and
`applier.apply_result` writes tasks, history, jobs, subscriptions, the instance
row and the outbox events together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.app import ServiceContext
from bpm_common.auth import Principal
from bpm_common.db import driver_connection
from bpm_common.errors import Conflict, DomainError, Forbidden, NotFound, Unprocessable, field_error
from bpm_common.ids import new_id
from bpm_process.engine import MAX_VALUE_BYTES, InstanceState, ProcessGraph, complete_task, start
from bpm_process.engine.errors import EngineError
from services.runtime.definitions.forms import check_submission
from services.runtime.definitions.service import VERSIONS_TO_START_BY, GraphCache, choose_version
from services.runtime.definitions.signers import resolve_signers
from services.runtime.instances import records  # noqa: F401 - registers the core record handlers
from services.runtime.instances.applier import InstanceRow, Step, apply_result
from services.runtime.instances.history import HistoryWriter
from services.runtime.instances.models import instances
from services.runtime.org.repository import department_of, person_columns, remember_person, roles_of
from services.runtime.tasks.models import tasks

MAX_VARIABLES_BYTES = 512 * 1024
MAX_NAME_LENGTH = 128
NAME_RULE = (
    f"a variable name starts with a letter or _ and goes on with letters, digits or _ "
    f"(at most {MAX_NAME_LENGTH} characters), so that expressions can refer to it"
)
#: set by the engine from the instance itself (`${initiator}`), never by a request
RESERVED_NAMES = frozenset({"initiator"})

#: a command: (graph, state, now, new_id) -> engine Result
EngineCommand = Callable[[ProcessGraph, InstanceState, dt.datetime, Callable[[], str]], Any]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_variables(variables: Mapping[str, Any], field: str = "variables") -> None:
    """Variables a request carries: names an expression can refer to, not a name the
    platform sets (`RESERVED_NAMES`), each value within the engine's limit per value,
    all of them within `MAX_VARIABLES_BYTES`; 422 naming the variable at fault."""
    for name in variables:
        if not isinstance(name, str) or not name.isidentifier() or len(name) > MAX_NAME_LENGTH:
            shown = name[:MAX_NAME_LENGTH] if isinstance(name, str) else str(name)
            raise Unprocessable(
                "a variable name is not usable",
                errors=[field_error(f"{field}.{shown}", NAME_RULE)],
            )
        if name in RESERVED_NAMES:
            raise Unprocessable(
                "a variable name is reserved",
                errors=[field_error(f"{field}.{name}", f"{name!r} is set by the platform, not by a request")],
            )
    size = len(jsonutil.dumps(variables))
    if size > MAX_VALUE_BYTES:
        for name, value in variables.items():
            one = len(jsonutil.dumps(value))
            if one > MAX_VALUE_BYTES:
                raise Unprocessable(
                    "a variable is too large",
                    errors=[field_error(f"{field}.{name}", f"{one} bytes, at most {MAX_VALUE_BYTES} allowed")],
                )
    if size > MAX_VARIABLES_BYTES:
        raise Unprocessable(
            "variables are too large",
            errors=[field_error(field, f"{size} bytes, at most {MAX_VARIABLES_BYTES} allowed")],
        )


def engine_error(exc: EngineError, fields: Mapping[str, str | None] | None = None) -> DomainError:
    """The engine's refusal as problem+json. The field at fault is the one the engine
    named, else the request field (of `fields`) whose value is the element at fault."""
    field = exc.field
    if field is None and exc.element_id is not None:
        named = [name for name, value in (fields or {}).items() if value == exc.element_id]
        field = named[0] if named else exc.element_id
    errors = [field_error(field, exc.message)] if field else None
    return DomainError(
        exc.message, status=exc.status_code, title="Process engine refused the command", errors=errors, code=exc.code
    )


_ROW_COLUMNS = (
    instances.c.id,
    instances.c.definition_id,
    instances.c.definition_key,
    instances.c.definition_version,
    instances.c.business_key,
    instances.c.initiator,
    instances.c.trial,
    instances.c.started_at,
    instances.c.event_sequence,
    instances.c.history_hash,
    instances.c.engine_state,
    instances.c.state,
    instances.c.suspended,
    instances.c.parent_instance_id,
    instances.c.parent_call_id,
)

# Every command runs these: plain SQL on the unit of work's connection
# (see `bpm_common.db.driver_connection`), prepared once per connection by asyncpg.
_LOCK = f"SELECT {', '.join(c.name for c in _ROW_COLUMNS)} FROM instances WHERE id = $1 FOR UPDATE"  # noqa: S608
_TASK_STATE = "SELECT state FROM tasks WHERE id = $1"
#: task $1 and its instance, both locked (the instance first, as every command that changes
#: a task locks them), with the roles the organisation copy gives the caller ($2). Rows locked
#: by a statement come back as they are once the locks are held, so a concurrent completion
#: of the same task that committed meanwhile is seen.
_LOCK_TASK = (
    "SELECT "  # noqa: S608 - column names of our tables
    + ", ".join(f"i.{c.name} AS i__{c.name}" for c in _ROW_COLUMNS)
    + ", "
    + ", ".join(f"t.{c.name}" for c in tasks.c)
    + ", (SELECT roles FROM org_users WHERE username = $2 AND active AND NOT deleted) AS caller_org_roles"
    " FROM instances i JOIN tasks t ON t.instance_id = i.id WHERE t.id = $1 FOR UPDATE OF i, t"
)
#: (InstanceRow field, its alias in `_LOCK_TASK`)
_LOCKED_INSTANCE_COLUMNS = tuple((c.name, f"i__{c.name}") for c in _ROW_COLUMNS)
_INSERT_INSTANCE = (
    "INSERT INTO instances (id, definition_id, definition_key, definition_version, business_key, initiator,"
    " state, trial, engine_state, started_at, parent_instance_id, parent_call_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, '{}', $8, $9, $10)"
)


class InstanceCommands:
    """Commands on instances; created per unit of work."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx
        self.graphs: GraphCache = ctx.extras["graphs"]

    async def caller_roles(self, principal: Principal) -> frozenset[str]:
        return principal.roles | await roles_of(self.session, principal.username)

    # -- start ---------------------------------------------------------------------------

    async def start(
        self,
        principal: Principal,
        definition_key: str,
        variables: dict[str, Any],
        business_key: str | None,
    ) -> dict[str, Any]:
        check_variables(variables)
        # the versions to choose from and the caller's organisation record, in one round trip
        rows = await (await driver_connection(self.session)).fetch(
            VERSIONS_TO_START_BY, definition_key, principal.username
        )
        roles = principal.roles | remember_person(self.session, principal.username, person_columns(rows[0])).roles
        ref = choose_version(definition_key, [row for row in rows if row["id"] is not None], roles)
        graph = await self.graphs.get(self.session, ref.id)
        forms = await self.graphs.forms(self.session, ref.id)
        start_event = graph.none_start or (graph.start_events[0] if len(graph.start_events) == 1 else None)
        check_submission(
            forms.forms, forms.start_forms.get(start_event or ""), variables, {"initiator": principal.username}
        )
        return await self.start_on(
            ref.id,
            ref.key,
            ref.version,
            trial=ref.status == "trial",
            initiator=principal.username,
            variables=variables,
            business_key=business_key,
        )

    async def start_on(
        self,
        definition_id: UUID,
        key: str,
        version: int,
        *,
        trial: bool,
        initiator: str | None,
        variables: dict[str, Any],
        business_key: str | None,
        start_event_id: str | None = None,
        parent: tuple[UUID, str] | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Start an instance of a known definition version (API, message, timer, call activity)."""
        graph = await self.graphs.get(self.session, definition_id)
        signers = (await self.graphs.forms(self.session, definition_id)).signers
        if signers:
            resolved = await resolve_signers(self.session, signers, initiator=initiator, variables=variables)
            variables = {**variables, **resolved}
        now = utcnow()
        try:
            result = start(graph, variables, initiator=initiator, now=now, new_id=new_id, start_event_id=start_event_id)
        except EngineError as exc:
            raise engine_error(exc) from exc
        instance_id = UUID(new_id())
        row = InstanceRow(
            id=instance_id,
            definition_id=definition_id,
            definition_key=key,
            definition_version=version,
            business_key=business_key,
            initiator=initiator,
            trial=trial,
            started_at=now,
            event_sequence=0,
            history_hash="",
            engine_state={},
            state="active",
            parent_instance_id=parent[0] if parent else None,
            parent_call_id=parent[1] if parent else None,
        )
        await (await driver_connection(self.session)).execute(
            _INSERT_INSTANCE,
            instance_id,
            definition_id,
            key,
            version,
            business_key,
            initiator,
            trial,
            now,
            row.parent_instance_id,
            row.parent_call_id,
        )
        history = HistoryWriter(instance_id, "", self.ctx.extras["history_keys"])
        step = Step(self.session, self.ctx, row, graph, now, actor or initiator, history)
        step.history.add(
            "instance_started",
            now,
            actor=actor or initiator,
            details={
                "definition_key": key,
                "definition_version": version,
                "business_key": business_key,
                **({"start_event": start_event_id} if start_event_id else {}),
                **({"parent_instance_id": str(parent[0])} if parent else {}),
            },
        )
        step.event(
            "instance.started",
            {
                **step.instance_common(),
                "definition_id": str(definition_id),
                "initiator_department": await department_of(self.session, initiator) if initiator else None,
                "started_at": now,
                "parent_instance_id": str(parent[0]) if parent else None,
            },
        )
        from services.runtime.instances.records import INSTANCES_STARTED

        step.count_after_commit(INSTANCES_STARTED.labels(key).inc)
        await apply_result(step, result)
        return summary(row, result)

    # -- complete a task ---------------------------------------------------------------

    async def complete_task(
        self,
        principal: Principal,
        task_id: UUID,
        variables: dict[str, Any],
        comment: str | None,
        outcome: str | None = None,
    ) -> dict[str, Any]:
        # one statement locks the instance and the task and reads both as they are then: no
        # second look at the task is needed once the lock is held
        found = await (await driver_connection(self.session)).fetchrow(_LOCK_TASK, task_id, principal.username)
        if found is None:
            raise NotFound(f"task {task_id} not found")
        task = dict(found)
        row = InstanceRow(**{name: task.pop(alias) for name, alias in _LOCKED_INSTANCE_COLUMNS})
        roles = principal.roles.union(task.pop("caller_org_roles") or ())
        if not works_on(task, principal.username, roles):
            raise Forbidden("you may not work on this task")
        if task["state"] != "open":
            raise Conflict(f"task {task_id} is already {task['state']}")
        if task["delegation_state"] == "pending":
            raise Conflict("the task is delegated: the delegate resolves it, then its owner completes it")
        check_variables(variables)
        if task["form_key"]:
            forms = await self.graphs.forms(self.session, row.definition_id)
            check_submission(forms.forms, task["form_key"], variables, {"initiator": row.initiator})
        return await self.execute(
            task["instance_id"],
            lambda graph, state, now, nid: complete_task(
                graph,
                state,
                str(task_id),
                variables=variables,
                actor=principal.username,
                outcome=outcome,
                now=now,
                new_id=nid,
            ),
            actor=principal.username,
            comment=comment,
            completed_task=task,
            submitted=variables,
            outcome=outcome,
            locked=row,
        )

    # -- the generic command ------------------------------------------------------------

    async def lock(self, instance_id: UUID) -> InstanceRow:
        found = await (await driver_connection(self.session)).fetchrow(_LOCK, instance_id)
        if found is None:
            raise NotFound(f"process instance {instance_id} not found")
        return InstanceRow(**found)

    async def execute(
        self,
        instance_id: UUID,
        command: EngineCommand,
        *,
        actor: str | None,
        comment: str | None = None,
        reason: str | None = None,
        completed_task: Mapping[str, Any] | None = None,
        submitted: Mapping[str, Any] | None = None,
        outcome: str | None = None,
        recheck_task: UUID | None = None,
        allow_suspended: bool = False,
        history: list[tuple[str, dict[str, Any]]] | None = None,
        locked: InstanceRow | None = None,
        fields: Mapping[str, str | None] | None = None,
    ) -> dict[str, Any]:
        """Lock the instance, run `command` on its state, apply the result.

        `recheck_task`: the task must still be open once the lock is held (a concurrent
        completion may have won). `history`: extra entries (action, fields) to record
        before the engine's, e.g. an administrator's intervention with its reason.
        `locked`: the instance row, when the caller already locked it in this unit of work.
        `fields`: the request's fields that name elements, for naming the one at fault.
        """
        row = locked or await self.lock(instance_id)
        if recheck_task is not None:
            state_now = await (await driver_connection(self.session)).fetchval(_TASK_STATE, recheck_task)
            if state_now != "open":
                raise Conflict(f"task {recheck_task} is already {state_now}")
        if row.state != "active":
            raise Conflict(f"process instance {row.id} is {row.state}")
        if row.suspended and not allow_suspended:
            raise Conflict(f"process instance {row.id} is suspended")
        graph = await self.graphs.get(self.session, row.definition_id)
        now = utcnow()
        before = InstanceState.from_json(row.engine_state)
        try:
            result = command(graph, before, now, new_id)
        except EngineError as exc:
            raise engine_error(exc, fields) from exc
        step = Step(
            self.session,
            self.ctx,
            row,
            graph,
            now,
            actor,
            HistoryWriter(row.id, row.history_hash, self.ctx.extras["history_keys"]),
            comment=comment,
            completed_task=completed_task,
            submitted=submitted,
            outcome=outcome,
            reason=reason,
            before=before,
        )
        for action, entry in history or ():
            step.history.add(action, now, actor=actor, **entry)
        await apply_result(step, result)
        return summary(row, result)


def summary(row: InstanceRow, result: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "definition_key": row.definition_key,
        "definition_version": row.definition_version,
        "business_key": row.business_key,
        "state": result.status,
        "result": result.result,
        "active_nodes": list(result.active_nodes),
    }


def may_work(task: Mapping[str, Any], username: str, roles: frozenset[str]) -> bool:
    """Whether `username` may complete `task`: its assignee, or one of its candidates."""
    if task["state"] != "open":
        return False
    return offered_to(task, username, roles)


def works_on(task: Mapping[str, Any], username: str, roles: frozenset[str]) -> bool:
    """Whether `task`, open or not, is `username`'s: offered to them, completed by them, or
    theirs once its delegate resolves it. Checked before the task's state, so that whom a
    task is not for learns nothing of it, while its people hear that it is done or
    delegated."""
    return offered_to(task, username, roles) or username in (task["completed_by"], task["owner"])


def offered_to(task: Mapping[str, Any], username: str, roles: frozenset[str]) -> bool:
    """Whether `task`, open or not, is (or was last) for `username`: its assignee, or a
    candidate."""
    if task["assignee"]:
        return task["assignee"] == username
    return username in (task["candidate_users"] or ()) or bool(roles.intersection(task["candidate_roles"] or ()))
