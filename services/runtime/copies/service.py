"""Copies (抄送): who gets one, how they read it, who may send one.

A copy goes to people: the rules of a copy node, of a RACI `informed` list or of a
manual copy are resolved with the same resolver as task assignment, with roles
expanded to their holders. Each recipient gets a row (with its read receipt) and a
`bpm.runtime.copy.created` event whose `copy_id` is that row; the instance's history
says who copied what to whom. A copy lets its recipient read the instance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import and_, any_, exists, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.auth import Principal
from bpm_common.errors import Forbidden, NotFound, Unprocessable, field_error
from bpm_common.ids import new_id
from bpm_process.assignment import USER, AssignmentRuleError, parse_rule
from bpm_process.engine import InstanceState
from services.runtime.copies.models import copies
from services.runtime.deadlines.assignment import Resolution, resolve_rules
from services.runtime.instances.applier import Step
from services.runtime.instances.models import instances
from services.runtime.instances.repository import get_visible
from services.runtime.operations.actions import instance_action
from services.runtime.org.models import org_users
from services.runtime.org.repository import roles_of
from services.runtime.tasks.models import tasks

ADMIN = "admin"
MANUAL = "manual"


def step_variables(step: Step) -> Mapping[str, Any]:
    """The instance variables a step sees (after its command, if one ran)."""
    result = step.extras.get("result")
    if result is not None:
        return result.state.variables
    return InstanceState.from_json(step.row.engine_state).variables if step.row.engine_state else {}


async def send_copies(
    step: Step,
    found: Resolution,
    *,
    rules: Sequence[str],
    kind: str,
    node_id: str | None,
    node_name: str | None,
    sender: str | None,
    message: str | None,
) -> list[dict[str, Any]]:
    """Write the copies of a resolved rule list: one row and one event per recipient,
    one history entry for the whole copy, one per rule that found nobody."""
    for rule, reason in found.unresolved:
        step.history.add(
            "copy_unresolved",
            step.now,
            actor=sender,
            node_id=node_id,
            node_name=node_name,
            details={"rule": rule, "reason": reason, "kind": kind},
        )
    if not found.users:
        return []
    rows = [
        {
            "id": UUID(new_id()),
            "instance_id": step.row.id,
            "node_id": node_id,
            "recipient": username,
            "kind": kind,
            "created_by": sender,
            "message": message,
            "created_at": step.now,
            "read_at": None,
        }
        for username in found.users
    ]
    await step.session.execute(insert(copies), rows)
    step.history.add(
        "copy_created",
        step.now,
        actor=sender,
        node_id=node_id,
        node_name=node_name,
        comment=message,
        details={"kind": kind, "rules": list(rules), "recipients": list(found.users)},
    )
    for row in rows:
        step.event(
            "copy.created",
            {
                **step.instance_common(),
                "copy_id": str(row["id"]),
                "node_id": node_id,
                "name": node_name,
                "recipients": [row["recipient"]],
                "kind": kind,
                "actor": sender,
                "message": message,
                "at": step.now,
            },
        )
    return rows


class Copies:
    """Manual copies and read receipts of one unit of work."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext) -> None:
        self.session = session
        self.ctx = ctx

    async def copy(
        self, principal: Principal, instance_id: UUID, to: list[str], message: str | None
    ) -> list[dict[str, Any]]:
        """Copy the instance to the people `to` names. The initiator, someone who has or
        had a task of it, or an administrator may; 422 naming each rule that finds nobody."""
        roles = principal.roles | await roles_of(self.session, principal.username)
        instance = (
            await self.session.execute(
                select(instances.c.initiator, instances.c.engine_state).where(
                    instances.c.id == instance_id
                )
            )
        ).first()
        if instance is None:
            raise NotFound(f"process instance {instance_id} not found")
        if (
            ADMIN not in roles
            and instance.initiator != principal.username
            and not await self._participant(instance_id, principal.username, roles)
        ):
            if await get_visible(self.session, instance_id, principal, roles) is None:
                raise NotFound(f"process instance {instance_id} not found")  # as for any other look
            raise Forbidden(
                "only the initiator, a participant or an administrator may copy this instance"
            )
        rules, positions = _checked_rules(to)
        variables = (
            InstanceState.from_json(instance.engine_state).variables
            if instance.engine_state
            else {}
        )
        found = await resolve_rules(
            self.session,
            rules,
            initiator=instance.initiator,
            variables=variables,
            expand_roles=True,
        )
        unresolved = [*found.unresolved, *await self._unknown_people(rules)]
        if unresolved:
            raise Unprocessable(
                "some recipients name nobody",
                errors=[
                    field_error(f"to[{positions[rule]}]", f"{rule} names nobody: {reason}")
                    for rule, reason in sorted(unresolved, key=lambda pair: positions[pair[0]])
                ],
            )
        async with instance_action(
            self.session,
            self.ctx,
            instance_id,
            actor=principal.username,
            allow_suspended=True,
            allow_ended=True,
        ) as step:
            rows = await send_copies(
                step,
                found,
                rules=rules,
                kind=MANUAL,
                node_id=None,
                node_name=None,
                sender=principal.username,
                message=message,
            )
        return [view(row) for row in rows]

    async def _unknown_people(self, rules: list[str]) -> list[tuple[str, str]]:
        """The `user:` rules naming someone the organisation does not know, with the reason.

        Task assignment takes such names (the organisation's copy may lag behind the
        directory, and the task waits in the inbox until they log in), but a copy sent
        by hand to a mistyped name would go nowhere unseen, as a transfer would: it is
        refused as a transfer is. Inactive and deleted users are the resolver's."""
        parsed = {rule: parse_rule(rule) for rule in rules}
        named = {rule: found.name for rule, found in parsed.items() if found.kind == USER}
        if not named:
            return []
        known = set(
            (
                await self.session.execute(
                    select(org_users.c.username).where(org_users.c.username.in_(named.values()))
                )
            ).scalars()
        )
        return [
            (rule, f"the organisation has no user {name}")
            for rule, name in named.items()
            if name not in known
        ]

    async def _participant(self, instance_id: UUID, username: str, roles: frozenset[str]) -> bool:
        role_list = sorted(roles)
        query = select(
            exists().where(
                and_(
                    tasks.c.instance_id == instance_id,
                    or_(
                        tasks.c.assignee == username,
                        tasks.c.completed_by == username,
                        literal(username) == any_(tasks.c.candidate_users),
                        tasks.c.candidate_roles.overlap(role_list) if role_list else False,
                    ),
                )
            )
        )
        return bool((await self.session.execute(query)).scalar())


def _checked_rules(to: list[str]) -> tuple[list[str], dict[str, int]]:
    """The recipients' rules in canonical text (and where each was in `to`); 422 naming
    each one that is no rule."""
    rules: list[str] = []
    positions: dict[str, int] = {}
    errors = []
    for index, text in enumerate(to):
        try:
            rule = str(parse_rule(text))
        except AssignmentRuleError as exc:
            errors.append(field_error(f"to[{index}]", str(exc)))
            continue
        if rule not in positions:
            positions[rule] = index
            rules.append(rule)
    if errors:
        raise Unprocessable("invalid recipients", errors=errors)
    return rules, positions


def view(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "instance_id": str(row["instance_id"]),
        "node_id": row["node_id"],
        "recipient": row["recipient"],
        "kind": row["kind"],
        "created_by": row["created_by"],
        "message": row["message"],
        "created_at": row["created_at"],
        "read_at": row["read_at"],
    }
