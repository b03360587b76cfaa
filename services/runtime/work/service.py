"""Rules of automated work: external workers fetch, lock and report; administrators retry incidents.

Every change of the instance goes through `InstanceCommands.execute` (which locks
the instance row). The instance is locked before its work item, the same order
the applier uses, so a worker's report and a user's command on the same instance
never deadlock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.errors import Conflict, NotFound
from bpm_process.engine import complete_work, fail_work, retry_work, throw_work_error
from services.runtime.instances.service import InstanceCommands, check_variables, utcnow
from services.runtime.jobs.incidents import retry_job
from services.runtime.work import repository
from services.runtime.work.models import FAILED, LOCKED, work_items

MAX_ERROR_CHARS = 4000


def external_task_view(row: Mapping[str, Any], *, with_variables: bool = True) -> dict[str, Any]:
    """An external task as workers and administrators see it."""
    view: dict[str, Any] = {
        "id": str(row["id"]),
        "topic": row["topic"],
        "state": row["state"],
        "worker_id": row["lock_owner"],
        "lock_expiration_time": row["locked_until"],
        "instance_id": str(row["instance_id"]),
        "definition_key": row["definition_key"],
        "business_key": row["business_key"],
        "node_id": row["node_id"],
        "node_name": row["node_name"],
        "retries": row["retries_left"],
        "priority": row["priority"],
        "headers": row["headers"] or {},
        "error_message": row["last_error"],
        "created_at": row["created_at"],
    }
    if with_variables:
        view["variables"] = row["variables"] or {}
    return view


def incident_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """An incident as administrators see it; one of a process definition (a timer start
    that could not start an instance) has no `instance_id` and names its version."""
    return {
        "id": str(row["id"]),
        "instance_id": str(row["instance_id"]) if row["instance_id"] is not None else None,
        "work_id": str(row["work_id"]),
        "job_kind": row["job_kind"],
        "definition_id": str(row["definition_id"]) if row["definition_id"] is not None else None,
        "definition_key": row["definition_key"],
        "definition_version": row["definition_version"],
        "node_id": row["node_id"],
        "node_name": row["node_name"],
        "message": row["message"],
        "state": row["state"],
        "created_at": row["created_at"],
        "resolved_at": row["resolved_at"],
        "resolved_by": row["resolved_by"],
        "reason": row["resolution"],
    }


class ExternalTasks:
    """Fetch-and-lock for external workers and their reports; created per unit of work."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext, account: str) -> None:
        self.session = session
        self.commands = InstanceCommands(session, ctx)
        #: the authenticated caller: it holds the locks it fetched and is the actor in the history
        self.account = account

    async def fetch_and_lock(self, worker_id: str, lock_ms: Mapping[str, int], max_tasks: int) -> list[dict[str, Any]]:
        rows = await repository.fetch_and_lock(self.session, utcnow(), worker_id, lock_ms, max_tasks, self.account)
        return [external_task_view(r) for r in rows]

    async def _held(self, work_id: UUID, worker_id: str) -> dict[str, Any]:
        """The external item, locked by `worker_id` of the caller's account, with its instance
        and row locked (in that order)."""
        item = await repository.get_item(self.session, work_id)
        if item is None or item["kind"] != "external":
            raise NotFound(f"external task {work_id} not found")
        await self.commands.lock(item["instance_id"])
        item = await repository.get_item(self.session, work_id, lock=True)
        assert item is not None  # the instance lock keeps it; items are never deleted
        if item["state"] != LOCKED:
            raise Conflict(f"external task {work_id} is {item['state']}, not locked by a worker")
        if item["lock_owner"] != worker_id or item["locked_by"] not in (None, self.account):
            raise Conflict(f"external task {work_id} is locked by another worker")
        return item

    def _summary(self, item: Mapping[str, Any], state: str, instance: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": str(item["id"]),
            "state": state,
            "instance_id": str(item["instance_id"]),
            "instance_state": instance["state"],
            "active_nodes": instance["active_nodes"],
        }

    async def complete(self, work_id: UUID, worker_id: str, variables: dict[str, Any]) -> dict[str, Any]:
        check_variables(variables)
        item = await self._held(work_id, worker_id)
        summary = await self.commands.execute(
            item["instance_id"],
            lambda graph, state, now, nid: complete_work(
                graph, state, str(work_id), variables=variables, now=now, new_id=nid
            ),
            actor=self.account,
            submitted=variables,
        )
        return self._summary(item, "completed", summary)

    async def failure(
        self, work_id: UUID, worker_id: str, error_message: str | None, retries: int, retry_timeout_ms: int | None
    ) -> dict[str, Any]:
        """The worker's attempt failed; it says how many retries are left (0 opens an incident)."""
        item = await self._held(work_id, worker_id)
        message = error_message[:MAX_ERROR_CHARS] if error_message else None
        summary = await self.commands.execute(
            item["instance_id"],
            lambda graph, state, now, nid: fail_work(
                graph, state, str(work_id), error_message=message, retries_left=retries, now=now, new_id=nid
            ),
            actor=self.account,
        )
        if retries > 0 and retry_timeout_ms is not None:
            await self.session.execute(
                update(work_items)
                .where(work_items.c.id == work_id)
                .values(available_at=utcnow() + dt.timedelta(milliseconds=retry_timeout_ms))
            )
        return self._summary(item, "open" if retries > 0 else "incident", summary)

    async def bpmn_error(
        self,
        work_id: UUID,
        worker_id: str,
        error_code: str,
        error_message: str | None,
        variables: dict[str, Any],
    ) -> dict[str, Any]:
        """The worker reports a business error: it goes to the task's error boundary event."""
        check_variables(variables)
        item = await self._held(work_id, worker_id)
        summary = await self.commands.execute(
            item["instance_id"],
            lambda graph, state, now, nid: throw_work_error(
                graph, state, str(work_id), error_code=error_code, message=error_message, variables=variables,
                now=now, new_id=nid,
            ),
            actor=self.account,
            history=[(
                "work_error_thrown",
                {"node_id": item["node_id"], "node_name": item["node_name"],
                 "details": {"work_id": str(work_id), "worker_id": worker_id, "error_code": error_code,
                             "message": error_message}},
            )],
        )
        await self.session.execute(
            update(work_items)
            .where(work_items.c.id == work_id)
            .values(
                state=FAILED, ended_at=utcnow(), lock_owner=None, locked_until=None,
                last_error=f"{error_code}: {error_message}" if error_message else error_code,
            )
        )
        return self._summary(item, FAILED, summary)

    async def extend_lock(self, work_id: UUID, worker_id: str, new_duration_ms: int) -> dict[str, Any]:
        """A lock that has run out cannot be extended (the task is anyone's to fetch by then):
        the worker fetches it again."""
        item = await self._held(work_id, worker_id)
        now = utcnow()
        if item["locked_until"] is not None and item["locked_until"] <= now:
            raise Conflict(f"the lock of external task {work_id} expired at {item['locked_until'].isoformat()}; "
                           "fetch the task again")
        until = now + dt.timedelta(milliseconds=new_duration_ms)
        await self.session.execute(update(work_items).where(work_items.c.id == work_id).values(locked_until=until))
        return {"id": str(item["id"]), "state": LOCKED, "worker_id": worker_id, "lock_expiration_time": until}


class Incidents:
    """Administrators hand failed work out again."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx
        self.commands = InstanceCommands(session, ctx)

    async def retry(self, incident_id: UUID, actor: str, retries: int, reason: str) -> dict[str, Any]:
        incident = await repository.get_incident(self.session, incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id} not found")
        if incident["state"] != "open":
            raise Conflict(f"incident {incident_id} is already {incident['state']}")
        if incident["job_kind"] is not None:
            await retry_job(self.session, self.ctx, incident, actor, reason)
            resolved = await repository.get_incident(self.session, incident_id)
            assert resolved is not None
            return incident_view(resolved)
        work_id = str(incident["work_id"])
        await self.commands.execute(
            incident["instance_id"],
            lambda graph, state, now, nid: retry_work(graph, state, work_id, retries=retries, now=now, new_id=nid),
            actor=actor,
            reason=reason,
            allow_suspended=True,
        )
        resolved = await repository.get_incident(self.session, incident_id)
        assert resolved is not None
        return incident_view(resolved)
