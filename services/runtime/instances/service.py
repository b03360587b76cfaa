"""Instances advance here: every engine result is applied in one place.

A command (start, complete a task, ...) runs in the request's unit of work:
the instance row is locked (`SELECT … FOR UPDATE`), the pure engine computes the
next state, and `apply_result` writes the instance, its tasks, the history
chain and the outbox events together. Nothing else writes instance state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prometheus_client import Counter
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.app import ServiceContext
from bpm_common.auth import Principal
from bpm_common.db import after_commit
from bpm_common.errors import Conflict, DomainError, NotFound, Unprocessable, field_error
from bpm_common.events.envelope import new_event
from bpm_common.ids import new_id
from services.runtime.definitions.service import DefinitionRef, GraphCache, definition_to_start
from services.runtime.engine import InstanceState, ProcessGraph, complete_task, start
from services.runtime.engine import events as ev
from services.runtime.engine.errors import EngineError
from services.runtime.instances.history import HistoryWriter
from services.runtime.instances.models import instances
from services.runtime.org.repository import roles_of
from services.runtime.tasks.models import tasks

INSTANCES_STARTED = Counter(
    "bpm_process_instances_started", "Process instances started", ["process"]
)
INSTANCES_COMPLETED = Counter(
    "bpm_process_instances_completed", "Process instances completed", ["process"]
)
INSTANCES_TERMINATED = Counter(
    "bpm_process_instances_terminated", "Process instances terminated", ["process"]
)
TASKS_COMPLETED = Counter("bpm_tasks_completed", "User tasks completed", ["process"])
TASKS_CREATED = Counter("bpm_tasks_created", "User tasks created", ["process"])

MAX_VARIABLES_BYTES = 512 * 1024
SOURCE = "runtime"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_variables(variables: Mapping[str, Any], field: str = "variables") -> None:
    size = len(jsonutil.dumps(variables))
    if size > MAX_VARIABLES_BYTES:
        raise Unprocessable(
            "variables are too large",
            errors=[field_error(field, f"{size} bytes, at most {MAX_VARIABLES_BYTES} allowed")],
        )


def engine_error(exc: EngineError) -> DomainError:
    errors = [field_error(exc.element_id or "model", exc.message)] if exc.element_id else None
    return DomainError(exc.message, status=exc.status_code, title="Process engine refused the command", errors=errors, code=exc.code)


@dataclass(slots=True)
class InstanceRow:
    """The columns of a locked instance row a command needs."""

    id: UUID
    definition_id: UUID
    definition_key: str
    definition_version: int
    business_key: str | None
    initiator: str | None
    trial: bool
    started_at: dt.datetime
    event_sequence: int
    history_hash: str
    engine_state: dict[str, Any]
    state: str


class InstanceCommands:
    """Commands on instances; created per unit of work."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx
        self.graphs: GraphCache = ctx.extras["graphs"]

    async def caller_roles(self, principal: Principal) -> frozenset[str]:
        return principal.roles | await roles_of(self.session, principal.username)

    # -- start -------------------------------------------------------------------------

    async def start(
        self,
        principal: Principal,
        definition_key: str,
        variables: dict[str, Any],
        business_key: str | None,
    ) -> dict[str, Any]:
        check_variables(variables)
        roles = await self.caller_roles(principal)
        ref = await definition_to_start(self.session, definition_key, roles)
        graph = await self.graphs.get(self.session, ref.id)
        now = utcnow()
        try:
            result = start(graph, variables, initiator=principal.username, now=now, new_id=new_id)
        except EngineError as exc:
            raise engine_error(exc) from exc
        instance_id = UUID(new_id())
        row = InstanceRow(
            id=instance_id,
            definition_id=ref.id,
            definition_key=ref.key,
            definition_version=ref.version,
            business_key=business_key,
            initiator=principal.username,
            trial=ref.status == "trial",
            started_at=now,
            event_sequence=0,
            history_hash="",
            engine_state={},
            state="active",
        )
        history = HistoryWriter(instance_id, "")
        history.add(
            "instance_started", now, actor=principal.username,
            details={"definition_key": ref.key, "definition_version": ref.version, "business_key": business_key},
        )
        events = [
            self._event(row, "instance.started", {
                "instance_id": str(instance_id),
                "definition_id": str(ref.id),
                "definition_key": ref.key,
                "definition_version": ref.version,
                "business_key": business_key,
                "initiator": principal.username,
                "started_at": now,
                "trial": row.trial,
            })
        ]
        await self.session.execute(
            insert(instances).values(
                id=instance_id,
                definition_id=ref.id,
                definition_key=ref.key,
                definition_version=ref.version,
                business_key=business_key,
                initiator=principal.username,
                state="active",
                trial=row.trial,
                engine_state={},
                started_at=now,
            )
        )
        after_commit(self.session, INSTANCES_STARTED.labels(ref.key).inc)
        await self.apply_result(row, graph, result, now, actor=principal.username, history=history, events=events)
        return self._summary(row, result)

    # -- complete a task -----------------------------------------------------------------

    async def complete_task(
        self,
        principal: Principal,
        task_id: UUID,
        variables: dict[str, Any],
        comment: str | None,
    ) -> dict[str, Any]:
        task = (await self.session.execute(select(tasks).where(tasks.c.id == task_id))).mappings().first()
        if task is None:
            raise NotFound(f"task {task_id} not found")
        roles = await self.caller_roles(principal)
        if not may_work(task, principal.username, roles):
            if task["state"] != "open":
                raise Conflict(f"task {task_id} is already {task['state']}")
            raise DomainError("you may not work on this task", status=403, title="Forbidden")
        row = await self.lock(task["instance_id"])
        # re-read under the instance lock: a concurrent completion may have won
        state_now = (
            await self.session.execute(select(tasks.c.state).where(tasks.c.id == task_id))
        ).scalar_one()
        if state_now != "open":
            raise Conflict(f"task {task_id} is already {state_now}")
        if row.state != "active":
            raise Conflict(f"instance {row.id} is {row.state}")
        check_variables(variables)
        graph = await self.graphs.get(self.session, row.definition_id)
        now = utcnow()
        try:
            result = complete_task(
                graph,
                InstanceState.from_json(row.engine_state),
                str(task_id),
                variables=variables,
                actor=principal.username,
                now=now,
                new_id=new_id,
            )
        except EngineError as exc:
            raise engine_error(exc) from exc
        history = HistoryWriter(row.id, row.history_hash)
        await self.apply_result(
            row, graph, result, now, actor=principal.username, history=history, events=[],
            comment=comment, completed_task=task, submitted=variables,
        )
        return self._summary(row, result)

    async def lock(self, instance_id: UUID) -> InstanceRow:
        found = (
            await self.session.execute(
                select(
                    instances.c.id, instances.c.definition_id, instances.c.definition_key,
                    instances.c.definition_version, instances.c.business_key, instances.c.initiator,
                    instances.c.trial, instances.c.started_at, instances.c.event_sequence,
                    instances.c.history_hash, instances.c.engine_state, instances.c.state,
                )
                .where(instances.c.id == instance_id)
                .with_for_update()
            )
        ).first()
        if found is None:
            raise NotFound(f"process instance {instance_id} not found")
        return InstanceRow(**found._mapping)

    # -- the one place that writes instance state -------------------------------------------

    async def apply_result(
        self,
        row: InstanceRow,
        graph: ProcessGraph,
        result: Any,
        now: dt.datetime,
        *,
        actor: str | None,
        history: HistoryWriter,
        events: list[Any],
        comment: str | None = None,
        completed_task: Mapping[str, Any] | None = None,
        submitted: Mapping[str, Any] | None = None,
    ) -> None:
        key = row.definition_key
        new_tasks: list[dict[str, Any]] = []
        for record in result.events:
            kind = record.type
            if kind == "task_created":
                spec = record.task
                new_tasks.append(
                    {
                        "id": UUID(spec.id),
                        "instance_id": row.id,
                        "definition_key": key,
                        "definition_version": row.definition_version,
                        "node_id": spec.node_id,
                        "name": spec.name,
                        "state": "open",
                        "assignee": spec.assignee,
                        "candidate_users": list(spec.candidate_users),
                        "candidate_roles": list(spec.candidate_groups),
                        "due_at": spec.due_at,
                        "priority": spec.priority,
                        "form_key": spec.form_key,
                        "documentation": spec.documentation,
                        "created_at": now,
                    }
                )
                history.add(
                    "task_created", now, node_id=spec.node_id, node_name=spec.name, task_id=spec.id,
                    details={
                        "assignee": spec.assignee,
                        "candidate_users": list(spec.candidate_users),
                        "candidate_roles": list(spec.candidate_groups),
                        "due_at": spec.due_at,
                    },
                )
                events.append(self._event(row, "task.created", {
                    **self._task_common(row, spec.id, spec.node_id, spec.name),
                    "assignee": spec.assignee,
                    "candidate_users": list(spec.candidate_users),
                    "candidate_roles": list(spec.candidate_groups),
                    "due_at": spec.due_at,
                    "created_at": now,
                    "initiator": row.initiator,
                    "business_key": row.business_key,
                }))
                after_commit(self.session, TASKS_CREATED.labels(key).inc)
            elif kind == "task_completed":
                done = completed_task if completed_task and str(completed_task["id"]) == record.task_id else None
                await self.session.execute(
                    update(tasks)
                    .where(tasks.c.id == UUID(record.task_id))
                    .values(
                        state="completed", completed_at=now, completed_by=record.actor,
                        comment=comment if done else None,
                        outcome=jsonutil.jsonable(dict(submitted)) if done and submitted else None,
                    )
                )
                name = done["name"] if done else graph.nodes[record.node_id].name
                history.add(
                    "task_completed", now, actor=record.actor, node_id=record.node_id, node_name=name,
                    task_id=record.task_id, comment=comment if done else None,
                    details={"variables": dict(submitted)} if done and submitted else None,
                )
                events.append(self._event(row, "task.completed", {
                    **self._task_common(row, record.task_id, record.node_id, name),
                    "actor": record.actor,
                    "created_at": done["created_at"] if done else None,
                    "completed_at": now,
                    "comment": comment if done else None,
                }))
                after_commit(self.session, TASKS_COMPLETED.labels(key).inc)
            elif kind == "task_cancelled":
                await self.session.execute(
                    update(tasks).where(tasks.c.id == UUID(record.task_id)).values(state="cancelled", completed_at=now)
                )
                name = graph.nodes[record.node_id].name
                history.add(
                    "task_cancelled", now, actor=actor, node_id=record.node_id, node_name=name,
                    task_id=record.task_id, details={"reason": record.reason},
                )
                events.append(self._event(row, "task.cancelled", {
                    **self._task_common(row, record.task_id, record.node_id, name),
                    "reason": record.reason,
                    "cancelled_at": now,
                    "trial": row.trial,
                }))
            elif kind == "activity_completed":
                if record.node_kind != "userTask":
                    history.add(
                        "activity_completed", now, node_id=record.node_id, node_name=record.node_name,
                        details={"kind": record.node_kind},
                    )
            elif kind in ("instance_completed", "instance_terminated"):
                action = "instance_completed" if kind == "instance_completed" else "instance_terminated"
                history.add(
                    action, now, actor=actor if kind == "instance_terminated" else None,
                    node_id=getattr(record, "node_id", None),
                )
                payload = {
                    "instance_id": str(row.id),
                    "definition_key": key,
                    "definition_version": row.definition_version,
                    "initiator": row.initiator,
                    "started_at": row.started_at,
                    "ended_at": now,
                    "duration_seconds": (now - row.started_at).total_seconds(),
                    "trial": row.trial,
                }
                if kind == "instance_terminated":
                    payload.update(actor=actor, reason=record.reason)
                    after_commit(self.session, INSTANCES_TERMINATED.labels(key).inc)
                else:
                    after_commit(self.session, INSTANCES_COMPLETED.labels(key).inc)
                events.append(self._event(row, action.replace("_", ".", 1), payload))
        if new_tasks:
            await self.session.execute(insert(tasks), new_tasks)
        status = result.status
        row.state = status
        await history.flush(self.session)
        await self.session.execute(
            update(instances)
            .where(instances.c.id == row.id)
            .values(
                engine_state=result.state.to_json(),
                state=status,
                active_nodes=list(result.active_nodes),
                ended_at=now if status != "active" else None,
                event_sequence=row.event_sequence,
                history_hash=history.last_hash,
            )
        )
        await self.ctx.events.add(self.session, *events)

    def _event(self, row: InstanceRow, name: str, data: dict[str, Any]) -> Any:
        row.event_sequence += 1
        return new_event(
            f"bpm.runtime.{name}", str(row.id), jsonutil.jsonable(data), source=SOURCE, sequence=row.event_sequence
        )

    @staticmethod
    def _task_common(row: InstanceRow, task_id: str, node_id: str, name: str | None) -> dict[str, Any]:
        return {
            "task_id": task_id,
            "instance_id": str(row.id),
            "definition_key": row.definition_key,
            "definition_version": row.definition_version,
            "node_id": node_id,
            "name": name,
            "trial": row.trial,
        }

    @staticmethod
    def _summary(row: InstanceRow, result: Any) -> dict[str, Any]:
        return {
            "id": str(row.id),
            "definition_key": row.definition_key,
            "definition_version": row.definition_version,
            "business_key": row.business_key,
            "state": result.status,
            "active_nodes": list(result.active_nodes),
        }


def may_work(task: Mapping[str, Any], username: str, roles: frozenset[str]) -> bool:
    """Whether `username` may complete `task`: its assignee, or one of its candidates."""
    if task["state"] != "open":
        return False
    if task["assignee"]:
        return task["assignee"] == username
    return username in (task["candidate_users"] or ()) or bool(roles.intersection(task["candidate_roles"] or ()))
