"""Administrators' interventions in running instances, each with a required reason.

Engine-backed ones (skip, move, cancel a token, terminate, edit variables) run
through `InstanceCommands.execute` and work on suspended instances too; suspend and
resume change only the instance rows (`admin/suspension.py`). They are reversible
where the process allows: resume undoes suspend, a move can be moved back, an edit
of variables keeps the old values in the history.

Suspend and resume reach the instances a call activity started (the whole request
stops, not only its top):

- A suspend cascades, in the same unit of work, to every running descendant
  (children, grandchildren ...) that is not suspended yet. Each gets its own
  `instance_suspended` history entry (the administrator as actor, the reason as
  comment, `details.cascade_from` = the instance the administrator suspended) and
  its own `instance.suspended` event (`cascade_from` in its data), exactly as a
  direct suspend, so its tasks refuse completion (409), its timers wait and its
  external work is not handed out. The suspended instance's own entry lists them
  in `details.cascaded_to`. A descendant already suspended (on its own, or from
  another instance above) stays as it is and gets no entry. The answer of suspend
  and resume names, in `suspended_by`, the instance above whose suspension holds it.
- A resume resumes the instance and only the descendants whose suspension came from
  it (`cascade_from` of their last `instance_suspended` entry), each with its own
  `instance_resumed` entry and event. A descendant an administrator suspended on its
  own stays suspended, and so does everything below it.
- A call activity that starts a child while its instance is suspended (an
  administrator skipped or moved a token onto it) starts the child suspended, from
  the same origin and with that suspension's reason; it is resumed with it.
- Resuming an instance while an instance above it is suspended is refused with 409
  naming the suspended caller and the instance to resume: an instance runs only
  while every instance that called it runs. Suspending an instance that is already
  suspended (also from above) is a 409, as before.
- Locks: the named instance first, then its running descendants one level at a time,
  each level in id order, so two administrators' calls on nested instances cannot
  deadlock each other. (A child that ends locks itself, then its parent, as before:
  should that meet a suspend of the parent at the same moment, PostgreSQL refuses one
  of the two as a deadlock, a transient error, as it does for a parent's cancellation.)
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.errors import NotFound, Unprocessable, field_error
from bpm_process.engine import (
    InstanceState,
    cancel_token,
    move_token,
    set_variables,
    skip_node,
    terminate,
)
from services.runtime.admin.suspension import Suspensions, suspended_by
from services.runtime.instances.models import instances
from services.runtime.instances.service import InstanceCommands, check_variables
from services.runtime.tasks.models import tasks


def _one_of(body: dict[str, str | None], *fields: str) -> None:
    given = [name for name in fields if body.get(name)]
    if len(given) != 1:
        raise Unprocessable(
            f"name exactly one of {' or '.join(fields)}",
            errors=[
                field_error(name, f"give exactly one of {', '.join(fields)}") for name in fields
            ],
        )


class AdminInterventions:
    """Interventions of one unit of work; `actor` is the administrator."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext, actor: str) -> None:
        self.session = session
        self.ctx = ctx
        self.actor = actor
        self.commands = InstanceCommands(session, ctx)

    async def _state(self, instance_id: UUID) -> dict[str, Any]:
        row = (
            await self.session.execute(
                select(
                    instances.c.id,
                    instances.c.state,
                    instances.c.suspended,
                    instances.c.active_nodes,
                ).where(instances.c.id == instance_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"process instance {instance_id} not found")
        origin = await suspended_by(self.session, row.id) if row.suspended else None
        return {
            "id": str(row.id),
            "state": row.state,
            "suspended": row.suspended,
            "suspended_by": str(origin) if origin else None,
            "active_nodes": list(row.active_nodes or []),
        }

    async def _known_nodes(self, instance_id: UUID, named: dict[str, str | None]) -> None:
        """422 naming the field for a node id the instance's process does not have."""
        definition_id = (
            await self.session.execute(
                select(instances.c.definition_id).where(instances.c.id == instance_id)
            )
        ).scalar_one_or_none()
        if definition_id is None:
            raise NotFound(f"process instance {instance_id} not found")
        graph = await self.commands.graphs.get(self.session, definition_id)
        errors = [
            field_error(field, f"the process has no node {node_id!r}")
            for field, node_id in named.items()
            if node_id is not None and node_id not in graph.nodes
        ]
        if errors:
            raise Unprocessable("unknown node", errors=errors)

    async def _execute(
        self, instance_id: UUID, command: Any, reason: str, **extra: Any
    ) -> dict[str, Any]:
        await self.commands.execute(
            instance_id, command, actor=self.actor, reason=reason, allow_suspended=True, **extra
        )
        return await self._state(instance_id)

    async def skip(
        self,
        instance_id: UUID,
        task_id: str | None,
        token_id: str | None,
        reason: str,
        variables: dict[str, Any],
    ) -> dict[str, Any]:
        """Leave a node as if it had completed (a task, a whole multi-instance body ...)."""
        _one_of({"task_id": task_id, "token_id": token_id}, "task_id", "token_id")
        check_variables(variables)
        return await self._execute(
            instance_id,
            lambda graph, state, now, nid: skip_node(
                graph,
                state,
                task_id=task_id,
                token_id=token_id,
                variables=variables,
                now=now,
                new_id=nid,
                reason=reason,
            ),
            reason,
            submitted=variables,
        )

    async def move(
        self,
        instance_id: UUID,
        from_node: str | None,
        token_id: str | None,
        to_node: str,
        reason: str,
    ) -> dict[str, Any]:
        """Jump: take a token from where it waits and put it at `to_node`."""
        _one_of({"from_node": from_node, "token_id": token_id}, "from_node", "token_id")
        await self._known_nodes(instance_id, {"from_node": from_node, "to_node": to_node})
        return await self._execute(
            instance_id,
            lambda graph, state, now, nid: move_token(
                graph,
                state,
                to_node=to_node,
                from_node=from_node,
                token_id=token_id,
                now=now,
                new_id=nid,
                reason=reason,
            ),
            reason,
            fields={"to_node": to_node, "from_node": from_node},
        )

    async def cancel_token(
        self, instance_id: UUID, token_id: str | None, from_node: str | None, reason: str
    ) -> dict[str, Any]:
        """Cancel one token; an instance left without tokens is terminated."""
        _one_of({"token_id": token_id, "from_node": from_node}, "token_id", "from_node")
        return await self._execute(
            instance_id,
            lambda graph, state, now, nid: cancel_token(
                graph,
                state,
                token_id=token_id,
                from_node=from_node,
                now=now,
                new_id=nid,
                reason=reason,
            ),
            reason,
        )

    async def terminate(self, instance_id: UUID, reason: str) -> dict[str, Any]:
        return await self._execute(
            instance_id,
            lambda graph, state, now, nid: terminate(
                graph, state, reason=reason, now=now, new_id=nid
            ),
            reason,
        )

    async def edit_variables(
        self, instance_id: UUID, variables: dict[str, Any], reason: str
    ) -> dict[str, Any]:
        """Set instance variables; the history keeps each value before and after."""
        check_variables(variables)
        return await self._execute(
            instance_id,
            lambda graph, state, now, nid: set_variables(
                graph, state, variables, now=now, new_id=nid
            ),
            reason,
        )

    async def suspend(self, instance_id: UUID, reason: str, *, suspended: bool) -> dict[str, Any]:
        """Suspend (commands other than administrators' are refused with 409, timers
        wait) or resume the instance, with the instances it called (see the module)."""
        suspensions = Suspensions(self.session, self.ctx, self.actor)
        if suspended:
            await suspensions.suspend(instance_id, reason)
        else:
            await suspensions.resume(instance_id, reason)
        return await self._state(instance_id)

    async def tokens(self, instance_id: UUID) -> dict[str, Any]:
        """Where the instance waits, for an administrator to pick a token: tokens with
        their nodes and open tasks, scopes (multi-instance counters), signers, work,
        timers."""
        row = (
            await self.session.execute(
                select(
                    instances.c.id,
                    instances.c.state,
                    instances.c.suspended,
                    instances.c.definition_id,
                    instances.c.engine_state,
                ).where(instances.c.id == instance_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"process instance {instance_id} not found")
        graph = await self.commands.graphs.get(self.session, row.definition_id)
        state = InstanceState.from_json(row.engine_state)
        open_tasks = {
            str(t["id"]): t
            for t in (
                await self.session.execute(
                    select(
                        tasks.c.id,
                        tasks.c.assignee,
                        tasks.c.owner,
                        tasks.c.candidate_users,
                        tasks.c.candidate_roles,
                        tasks.c.due_at,
                    ).where(tasks.c.instance_id == instance_id, tasks.c.state == "open")
                )
            ).mappings()
        }
        return {
            "instance_id": str(row.id),
            "state": row.state,
            "suspended": row.suspended,
            "tokens": [
                _token_view(graph, token, open_tasks.get(token.task or ""))
                for token in state.tokens
            ],
            "scopes": [
                {
                    "id": s.id,
                    "node_id": s.node,
                    "kind": s.kind,
                    "parent": s.parent,
                    "token_id": s.token,
                    "variables": dict(s.variables),
                }
                for s in state.scopes
            ],
            "signers": [
                {
                    "id": s.id,
                    "mode": s.mode,
                    "node_id": s.node,
                    "token_id": s.token,
                    "user": s.user,
                    "task_id": s.task,
                }
                for s in state.signers
            ],
            "works": [
                {
                    "id": w.id,
                    "kind": w.kind,
                    "node_id": w.node,
                    "token_id": w.token,
                    "retries": w.retries,
                    "incident": w.incident,
                }
                for w in state.works
            ],
            "timers": [
                {"id": j.id, "node_id": j.node, "token_id": j.token, "due_at": j.due_at}
                for j in state.jobs
            ],
        }


def _token_view(graph: Any, token: Any, task: Any) -> dict[str, Any]:
    node = graph.nodes.get(token.node)
    return {
        "id": token.id,
        "node_id": token.node,
        "node_name": node.name if node else None,
        "node_kind": node.kind if node else None,
        "scope_id": token.scope,
        "arrived_via": token.via,
        "work_id": token.work,
        "signs_with": token.group,
        "task": {
            "id": str(task["id"]),
            "assignee": task["assignee"],
            "owner": task["owner"],
            "candidate_users": list(task["candidate_users"] or []),
            "candidate_roles": list(task["candidate_roles"] or []),
            "due_at": task["due_at"],
        }
        if task
        else None,
    }
