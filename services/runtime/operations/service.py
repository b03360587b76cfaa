"""Approval operations that move the instance: approve, reject, return to an earlier node,
add and remove signers, withdraw.

Each checks who may do it, then runs the engine command through
`InstanceCommands.execute` (the instance lock, the applier, the history chain);
the records it produces become history and events in `operations/records.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.auth import Principal
from bpm_common.errors import Conflict, Forbidden, NotFound, Unprocessable, field_error
from bpm_process.engine import (
    EngineError,
    InstanceState,
    ProcessGraph,
    Result,
    add_signer,
    earlier_nodes,
    remove_signer,
    return_to,
    withdraw,
)
from services.runtime.instances.models import history, instances
from services.runtime.instances.repository import get_visible
from services.runtime.instances.service import InstanceCommands, engine_error, works_on
from services.runtime.operations.actions import task_row
from services.runtime.operations.users import require_known_user
from services.runtime.tasks.models import tasks

ADMIN = "admin"

#: history actions by which someone other than the initiator has acted on a request. Taking
#: a task up (a claim), handing it on (a transfer) or asking someone else to do it (a
#: delegation) is acting on it: the request is already in someone's hands. An
#: administrator's reassignment is not; it changes who the request waits for.
ACTED = (
    "task_completed",
    "task_claimed",
    "task_transferred",
    "task_delegated",
    "task_returned",
    "token_moved",
    "node_skipped",
    "token_cancelled",
    "signer_added",
    "signer_removed",
)
#: of those, the ones that send the request back (the initiator may withdraw it then)
SENT_BACK = ("task_returned", "token_moved")


class ApprovalOperations:
    """Approval operations of one unit of work."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx
        self.commands = InstanceCommands(session, ctx)

    # -- shared checks -------------------------------------------------------------------

    async def _open_task(
        self, principal: Principal, task_id: UUID, *, admin_may: bool
    ) -> tuple[dict[str, Any], bool]:
        """The task, open and workable by the caller (or any open task for an admin when
        `admin_may`); returns the row and whether the caller is an administrator."""
        task = await task_row(self.session, task_id)
        roles = await self.commands.caller_roles(principal)
        admin = ADMIN in roles
        if not works_on(task, principal.username, roles) and not (admin_may and admin):
            raise Forbidden("you may not work on this task")
        if task["state"] != "open":
            raise Conflict(f"task {task_id} is already {task['state']}")
        return task, admin

    @staticmethod
    def _not_delegated(task: Mapping[str, Any]) -> None:
        if task["delegation_state"] == "pending":
            raise Conflict(
                f"task {task['id']} is delegated to {task['assignee']}: they resolve it, "
                f"then {task['owner']} completes it"
            )

    async def _graph_and_state(self, instance_id: UUID) -> tuple[ProcessGraph, InstanceState]:
        row = (
            await self.session.execute(
                select(instances.c.definition_id, instances.c.engine_state).where(
                    instances.c.id == instance_id
                )
            )
        ).first()
        if row is None:
            raise NotFound(f"process instance {instance_id} not found")
        graph = await self.commands.graphs.get(self.session, row.definition_id)
        return graph, InstanceState.from_json(row.engine_state)

    # -- approve and reject --------------------------------------------------------------------

    async def decide(
        self,
        principal: Principal,
        task_id: UUID,
        *,
        approve: bool,
        comment: str | None,
        variables: dict[str, Any],
    ) -> dict[str, Any]:
        """Approve or reject the task. An approval task (`bpm:approval`) completes with
        that outcome and its node does what the model says (a rejection may end the
        instance, go back to the initiator or the previous node); any other task is
        completed by approving it and cannot be rejected."""
        task, _ = await self._open_task(principal, task_id, admin_may=False)
        self._not_delegated(task)
        graph, _ = await self._graph_and_state(task["instance_id"])
        node = graph.nodes.get(task["node_id"])
        approval = node is not None and node.approval is not None
        if not approval and not approve:
            raise Unprocessable(
                f"{task['node_id']!r} is not an approval step: complete it, or return it "
                "to an earlier node",
                errors=[field_error("task_id", "not an approval task")],
            )
        outcome = ("approve" if approve else "reject") if approval else None
        summary = await self.commands.complete_task(principal, task_id, variables, comment, outcome)
        return {
            "id": str(task_id),
            "instance_id": summary["id"],
            "state": "completed",
            "outcome": outcome,
            "instance_state": summary["state"],
            "active_nodes": summary["active_nodes"],
        }

    # -- return to an earlier node -------------------------------------------------------------

    async def return_targets(self, principal: Principal, task_id: UUID) -> list[dict[str, Any]]:
        task, _ = await self._open_task(principal, task_id, admin_may=True)
        graph, state = await self._graph_and_state(task["instance_id"])
        try:
            found = earlier_nodes(graph, state, str(task_id))
        except EngineError as exc:
            raise engine_error(exc) from exc
        return [{"node_id": node_id, "name": graph.nodes[node_id].name} for node_id in found]

    async def return_task(
        self, principal: Principal, task_id: UUID, target: str, reason: str
    ) -> dict[str, Any]:
        """Send the instance back from this task to an earlier node: tokens between the
        target and the task (parallel branches, other multi-instance signers) are
        cancelled, and the target's work is created again."""
        task, _ = await self._open_task(principal, task_id, admin_may=True)
        self._not_delegated(task)
        targets = {item["node_id"] for item in await self.return_targets(principal, task_id)}
        if target not in targets:
            raise Unprocessable(
                f"{target!r} is not an earlier node task {task_id} can return to",
                errors=[
                    field_error("target_node_id", f"one of: {', '.join(sorted(targets)) or 'none'}")
                ],
            )
        summary = await self.commands.execute(
            task["instance_id"],
            lambda graph, state, now, nid: return_to(
                graph, state, str(task_id), target, now=now, new_id=nid, reason=reason
            ),
            actor=principal.username,
            reason=reason,
            completed_task=task,
            recheck_task=task_id,
        )
        return {
            "id": str(task_id),
            "instance_id": summary["id"],
            "state": "cancelled",
            "target_node_id": target,
            "instance_state": summary["state"],
            "active_nodes": summary["active_nodes"],
        }

    # -- signers ---------------------------------------------------------------------------------

    async def add_signer(
        self, principal: Principal, task_id: UUID, user: str, mode: str, reason: str | None
    ) -> dict[str, Any]:
        """加签: `before` (the signer signs first, then the task comes back), `after`
        (once the task is completed, the signer signs too), `parallel` (both sign)."""
        task, _ = await self._open_task(principal, task_id, admin_may=True)
        self._not_delegated(task)
        await require_known_user(self.session, user, "user")
        if user in (task["assignee"], principal.username if task["assignee"] is None else None):
            raise Unprocessable(
                "the signer must be someone else than whoever works the task",
                errors=[field_error("user", "already works this task")],
            )
        # under the instance's lock: two requests adding the same signer at once must not
        # both find them missing
        locked = await self.commands.lock(task["instance_id"])
        signs_already = (
            await self.session.execute(
                select(tasks.c.id).where(
                    tasks.c.instance_id == task["instance_id"], tasks.c.node_id == task["node_id"],
                    tasks.c.state == "open", tasks.c.assignee == user,
                ).limit(1)
            )
        ).first()
        if signs_already is not None:
            raise Conflict(
                f"{user} already has a task at this node: one person, one signature",
                errors=[field_error("user", "already signs at this node")],
            )
        produced: list[Result] = []

        def command(graph: ProcessGraph, state: InstanceState, now: Any, nid: Any) -> Result:
            result = add_signer(
                graph, state, str(task_id), user=user, mode=mode, now=now, new_id=nid,
                holder=task["assignee"],
            )
            produced.append(result)
            return result

        summary = await self.commands.execute(
            task["instance_id"],
            command,
            actor=principal.username,
            reason=reason,
            recheck_task=task_id,
            locked=locked,
        )
        added = next(record for record in produced[0].events if record.type == "signer_added")
        return {
            "signer_id": added.signer_id,
            "task_id": str(task_id),
            "instance_id": summary["id"],
            "user": user,
            "mode": mode,
            "active_nodes": summary["active_nodes"],
        }

    async def remove_signer(
        self, principal: Principal, task_id: UUID, signer_id: str, reason: str | None
    ) -> None:
        """减签: remove a signer added to this task, by whoever added it or an administrator.
        A signer who already signed, or the last open task of the node, cannot be removed."""
        task = await task_row(self.session, task_id)
        added = (
            await self.session.execute(
                select(history.c.actor).where(
                    history.c.instance_id == task["instance_id"],
                    history.c.action == "signer_added",
                    history.c.task_id == task_id,
                    history.c.details["signer_id"].astext == signer_id,
                )
            )
        ).first()
        if added is None:
            raise NotFound(f"task {task_id} has no added signer {signer_id}")
        roles = await self.commands.caller_roles(principal)
        if added.actor != principal.username and ADMIN not in roles:
            raise Forbidden("only whoever added the signer, or an administrator, may remove it")
        await self.commands.execute(
            task["instance_id"],
            lambda graph, state, now, nid: remove_signer(
                graph, state, signer_id, now=now, new_id=nid
            ),
            actor=principal.username,
            reason=reason,
        )

    # -- withdraw ----------------------------------------------------------------------------------

    async def withdraw(
        self, principal: Principal, instance_id: UUID, reason: str | None
    ) -> dict[str, Any]:
        """撤回: the initiator takes the request back (it ends `terminated`), while no one
        else has acted on it since they last submitted it (see `withdraw_refusal`)."""
        roles = await self.commands.caller_roles(principal)
        seen = await get_visible(self.session, instance_id, principal, roles)
        if seen is None:
            raise NotFound(f"process instance {instance_id} not found")
        if seen["initiator"] != principal.username:
            raise Forbidden("only the initiator may withdraw a request")
        row = await self.commands.lock(instance_id)
        if row.state != "active":
            raise Conflict(f"process instance {instance_id} is {row.state}")
        refusal = await withdraw_refusal(self.session, instance_id, principal.username)
        if refusal:
            raise Conflict(refusal)
        summary = await self.commands.execute(
            instance_id,
            lambda graph, state, now, nid: withdraw(
                graph, state, now=now, new_id=nid, reason=reason
            ),
            actor=principal.username,
            reason=reason,
        )
        return {
            "id": summary["id"],
            "state": summary["state"],
            "active_nodes": summary["active_nodes"],
        }


def _sent_back_to(row: Any) -> str | None:
    """The node an act sent the request back to (a return, a rejection's jump), else None."""
    if row.action not in SENT_BACK:
        return None
    details = row.details or {}
    return details.get("target_node_id") or details.get("to_node") or row.node_id


async def withdraw_refusal(session: AsyncSession, instance_id: UUID, initiator: str) -> str | None:
    """Why the initiator may not withdraw the instance now, or None if they may.

    The initiator *submitted* the request when the instance started, and submits it
    again by completing a task after someone sent it back to them (a resubmission
    after a return). They may withdraw it when, since the last submission, nobody else
    has acted on it (completed, returned, claimed, transferred or delegated a task, added
    or removed a signer, skipped, moved or cancelled a token: `ACTED`), or when the last such act sent the request
    back and it now waits for the initiator at the node it was sent back to (an open
    task there assigned to them; a task of theirs elsewhere, in a parallel branch, is
    no such wait).

    An initiator who also works on the request later (a signer of a countersign, a
    task of their own in a parallel branch) does not submit it again by completing
    that task: what others did before it still counts.
    """
    rows = (
        await session.execute(
            select(history.c.action, history.c.actor, history.c.node_id, history.c.details)
            .where(
                history.c.instance_id == instance_id,
                history.c.action.in_(("instance_started", *ACTED)),
            )
            .order_by(history.c.id)
        )
    ).all()
    last = None  # the last act of someone else since the request was last submitted
    sent_to = None  # the node the last act sent the request back to
    for row in rows:
        if row.action == "instance_started":
            last = sent_to = None
        elif row.actor == initiator:
            if row.action == "task_completed" and last is not None and row.node_id == sent_to:
                last = sent_to = None  # submitted again, at the node it was sent back to
        elif row.actor is not None:
            last = row
            sent_to = _sent_back_to(row)
    if last is None:
        return None
    if sent_to is not None:
        waiting = (
            await session.execute(
                select(tasks.c.id)
                .where(
                    tasks.c.instance_id == instance_id,
                    tasks.c.node_id == sent_to,
                    tasks.c.state == "open",
                    tasks.c.assignee == initiator,
                )
                .limit(1)
            )
        ).first()
        if waiting is not None:
            return None
    return f"{last.actor} has already acted on this request; it can no longer be withdrawn"
