"""Who works a task: claim, unclaim, transfer (转办), delegate and resolve (委派),
an administrator's reassignment, and urging (催办).

These change the task row only, never the engine state, but they take the instance
lock (so they serialise with completions), record history in the instance's chain
and emit `task.assigned` / `task.urged` (see `operations/actions.py`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.auth import Principal
from bpm_common.errors import Conflict, Forbidden, TooManyRequests, Unprocessable, field_error
from bpm_process.engine import set_variables
from services.runtime.instances.applier import Step
from services.runtime.instances.models import instances
from services.runtime.instances.repository import OVERSEERS
from services.runtime.instances.service import InstanceCommands, check_variables, may_work, works_on
from services.runtime.operations.actions import instance_action, task_event_data, task_row
from services.runtime.operations.users import require_known_user
from services.runtime.tasks.models import tasks

ADMIN = "admin"
PENDING = "pending"
RESOLVED = "resolved"
#: a task may be urged once in this interval
URGE_INTERVAL = dt.timedelta(minutes=10)

#: history action of each kind of `task.assigned`
ASSIGNED_ACTIONS = {
    "claim": "task_claimed",
    "unclaim": "task_unclaimed",
    "transfer": "task_transferred",
    "delegate": "task_delegated",
    "resolve": "task_resolved",
    "reassign": "task_reassigned",
}

#: checks a fresh task row under the lock for the caller (username, roles) and returns the
#: columns to change
Change = Callable[[Mapping[str, Any], str, frozenset[str]], dict[str, Any]]


def view(task: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(task["id"]),
        "instance_id": str(task["instance_id"]),
        "node_id": task["node_id"],
        "name": task["name"],
        "state": task["state"],
        "assignee": task["assignee"],
        "owner": task["owner"],
        "delegation_state": task["delegation_state"],
        "candidate_users": list(task["candidate_users"] or []),
        "candidate_roles": list(task["candidate_roles"] or []),
        "due_at": task["due_at"],
        "last_urged_at": task["last_urged_at"],
    }


def _concerned(task: Mapping[str, Any], user: str, roles: frozenset[str], initiator: str | None) -> None:
    """403, as a completion answers, for a caller the task does not concern: not offered
    to them, not completed, owned or started by them, and no administrator or overseer.
    Checked before the task's state, so that they learn nothing of it (its state, its
    assignee)."""
    if (
        works_on(task, user, roles)
        or _candidate(task, user, roles)  # a claimed task stays a candidate's concern
        or user == initiator
        or roles.intersection(OVERSEERS)
    ):
        return
    raise Forbidden("you may not act on this task")


def _candidate(task: Mapping[str, Any], user: str, roles: frozenset[str]) -> bool:
    """Whether the task is offered to `user` or a role of theirs, claimed or not."""
    return user in (task["candidate_users"] or ()) or bool(roles.intersection(task["candidate_roles"] or ()))


def _not_delegated(task: Mapping[str, Any]) -> None:
    if task["delegation_state"] == PENDING:
        raise Conflict(
            f"task {task['id']} is delegated to {task['assignee']}; it must be resolved first"
        )


def _other_than_assignee(task: Mapping[str, Any], to: str) -> None:
    if task["assignee"] == to:
        raise Unprocessable(
            f"task {task['id']} is already assigned to {to}",
            errors=[field_error("to", "already the assignee")],
        )


class TaskAssignments:
    """Assignment changes of one unit of work."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx
        self.commands = InstanceCommands(session, ctx)

    async def _change(
        self,
        principal: Principal,
        task_id: UUID,
        kind: str,
        change: Change,
        *,
        reason: str | None = None,
        allow_suspended: bool = False,
    ) -> dict[str, Any]:
        """Lock the instance, re-read the task, apply `change`, record and announce it."""
        first = await task_row(self.session, task_id)
        roles = await self.commands.caller_roles(principal)
        _concerned(first, principal.username, roles, None)  # no change is the initiator's
        async with instance_action(
            self.session,
            self.ctx,
            first["instance_id"],
            actor=principal.username,
            reason=reason,
            allow_suspended=allow_suspended,
        ) as step:
            task = await task_row(self.session, task_id, lock=True)
            if task["state"] != "open":
                raise Conflict(f"task {task_id} is already {task['state']}")
            values = change(task, principal.username, roles)
            await self.session.execute(update(tasks).where(tasks.c.id == task_id).values(**values))
            changed = {**task, **values}
            _record_assignment(step, task, changed, kind, reason)
        return view(changed)

    # -- claim and unclaim ---------------------------------------------------------------------

    async def claim(self, principal: Principal, task_id: UUID) -> dict[str, Any]:
        """Take a task offered to the caller (or a role of theirs): it becomes theirs alone."""

        def change(task: Mapping[str, Any], user: str, roles: frozenset[str]) -> dict[str, Any]:
            if not _candidate(task, user, roles) and task["assignee"] != user:
                raise Forbidden("the task is not offered to you")
            if task["assignee"] is not None:
                raise Conflict(f"task {task_id} is already assigned to {task['assignee']}")
            return {"assignee": user}

        return await self._change(principal, task_id, "claim", change)

    async def unclaim(self, principal: Principal, task_id: UUID) -> dict[str, Any]:
        """Give a claimed task back to its candidates (the claimer, or an administrator)."""

        def change(task: Mapping[str, Any], user: str, roles: frozenset[str]) -> dict[str, Any]:
            if task["assignee"] != user and ADMIN not in roles:
                raise Forbidden(
                    "only whoever claimed the task, or an administrator, may unclaim it"
                )
            _not_delegated(task)
            if task["assignee"] is None:
                raise Conflict(f"task {task_id} is not claimed")
            if not task["candidate_users"] and not task["candidate_roles"]:
                raise Conflict(
                    f"task {task_id} was assigned, not claimed: it has no candidates to go back "
                    "to; transfer it instead"
                )
            return {"assignee": None}

        return await self._change(principal, task_id, "unclaim", change)

    # -- transfer ------------------------------------------------------------------------------

    async def transfer(
        self, principal: Principal, task_id: UUID, to: str, reason: str | None
    ) -> dict[str, Any]:
        """转办: the task goes to `to` for good (the current assignee or a candidate, or an
        administrator, may do it); it stays the same task."""
        await require_known_user(self.session, to, "to")

        def change(task: Mapping[str, Any], user: str, roles: frozenset[str]) -> dict[str, Any]:
            if not may_work(task, user, roles) and ADMIN not in roles:
                raise Forbidden("only whoever works the task, or an administrator, may transfer it")
            _not_delegated(task)
            _other_than_assignee(task, to)
            return {"assignee": to, "owner": None, "delegation_state": None}

        return await self._change(principal, task_id, "transfer", change, reason=reason)

    async def reassign(
        self, principal: Principal, task_id: UUID, to: str, reason: str
    ) -> dict[str, Any]:
        """An administrator gives the task to `to`, even while it is delegated or the
        instance is suspended (a delegation is ended)."""
        await require_known_user(self.session, to, "to")

        def change(task: Mapping[str, Any], user: str, roles: frozenset[str]) -> dict[str, Any]:
            _other_than_assignee(task, to)
            return {"assignee": to, "owner": None, "delegation_state": None}

        return await self._change(
            principal, task_id, "reassign", change, reason=reason, allow_suspended=True
        )

    # -- delegate and resolve ------------------------------------------------------------------

    async def delegate(
        self, principal: Principal, task_id: UUID, to: str, reason: str | None
    ) -> dict[str, Any]:
        """委派: `to` works the task for its assignee (who stays its owner); when `to`
        resolves it, it comes back to the owner, who completes it."""
        await require_known_user(self.session, to, "to")

        def change(task: Mapping[str, Any], user: str, roles: frozenset[str]) -> dict[str, Any]:
            if task["assignee"] is None:
                if may_work(task, user, roles) or ADMIN in roles:
                    raise Conflict(
                        f"task {task_id} is offered to candidates: claim it before delegating it"
                    )
                raise Forbidden("only the task's assignee may delegate it")
            if task["assignee"] != user and ADMIN not in roles:
                raise Forbidden("only the task's assignee may delegate it")
            _not_delegated(task)
            _other_than_assignee(task, to)
            return {"owner": task["assignee"], "assignee": to, "delegation_state": PENDING}

        return await self._change(principal, task_id, "delegate", change, reason=reason)

    async def resolve(
        self, principal: Principal, task_id: UUID, comment: str | None, variables: dict[str, Any]
    ) -> dict[str, Any]:
        """The delegate is done: the task goes back to its owner; `variables` are stored
        for the task as a completion would store them."""

        def change(task: Mapping[str, Any], user: str, roles: frozenset[str]) -> dict[str, Any]:
            if task["delegation_state"] != PENDING:
                raise Conflict(f"task {task_id} is not delegated")
            if task["assignee"] != user:
                raise Forbidden("only the delegate may resolve the task")
            return {"assignee": task["owner"], "owner": None, "delegation_state": RESOLVED}

        task = await task_row(self.session, task_id)
        roles = await self.commands.caller_roles(principal)
        _concerned(task, principal.username, roles, None)
        if task["state"] != "open":
            raise Conflict(f"task {task_id} is already {task['state']}")
        change(task, principal.username, frozenset())
        if variables:
            check_variables(variables)
            await self.commands.execute(
                task["instance_id"],
                lambda graph, state, now, nid: set_variables(
                    graph, state, variables, task_id=str(task_id), now=now, new_id=nid
                ),
                actor=principal.username,
                recheck_task=task_id,
            )
        return await self._change(principal, task_id, "resolve", change, reason=comment)

    # -- urge ------------------------------------------------------------------------------------

    async def urge(
        self, principal: Principal, task_id: UUID, message: str | None
    ) -> dict[str, Any]:
        """催办: the initiator (or an administrator) reminds whoever must work the task; at
        most once per `URGE_INTERVAL` per task (429 with Retry-After)."""
        first = await task_row(self.session, task_id)
        roles = await self.commands.caller_roles(principal)
        initiator = (
            await self.session.execute(select(instances.c.initiator).where(instances.c.id == first["instance_id"]))
        ).scalar_one_or_none()
        _concerned(first, principal.username, roles, initiator)
        async with instance_action(
            self.session, self.ctx, first["instance_id"], actor=principal.username
        ) as step:
            task = await task_row(self.session, task_id, lock=True)
            if step.row.initiator != principal.username and ADMIN not in roles:
                raise Forbidden("only the initiator or an administrator may urge a task")
            if task["state"] != "open":
                raise Conflict(f"task {task_id} is already {task['state']}")
            last = task["last_urged_at"]
            if last is not None and step.now - last < URGE_INTERVAL:
                wait = math.ceil((last + URGE_INTERVAL - step.now).total_seconds())
                raise TooManyRequests(
                    f"task {task_id} was urged at {last.isoformat()}; urge again in {wait} seconds",
                    headers={"Retry-After": str(max(wait, 1))},
                )
            await self.session.execute(
                update(tasks).where(tasks.c.id == task_id).values(last_urged_at=step.now)
            )
            step.history.add(
                "task_urged",
                step.now,
                actor=principal.username,
                node_id=task["node_id"],
                node_name=task["name"],
                task_id=str(task_id),
                comment=message,
            )
            step.event(
                "task.urged",
                {
                    **task_event_data(step, task),
                    "assignee": task["assignee"],
                    "candidate_users": list(task["candidate_users"] or []),
                    "candidate_roles": list(task["candidate_roles"] or []),
                    "actor": principal.username,
                    "message": message,
                    "at": step.now,
                },
            )
        return view({**task, "last_urged_at": step.now})


def _record_assignment(
    step: Step, before: Mapping[str, Any], after: Mapping[str, Any], kind: str, reason: str | None
) -> None:
    step.history.add(
        ASSIGNED_ACTIONS[kind],
        step.now,
        actor=step.actor,
        node_id=before["node_id"],
        node_name=before["name"],
        task_id=str(before["id"]),
        comment=reason,
        details={
            "assignee": after["assignee"],
            "previous_assignee": before["assignee"],
            "owner": after["owner"],
        },
    )
    step.event(
        "task.assigned",
        {
            **task_event_data(step, before),
            "assignee": after["assignee"],
            "previous_assignee": before["assignee"],
            "owner": after["owner"] if after["delegation_state"] == PENDING else None,
            "kind": kind,
            "actor": step.actor,
            "reason": reason,
            "at": step.now,
        },
    )
