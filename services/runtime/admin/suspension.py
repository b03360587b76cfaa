"""Suspend and resume, carried through call activities to the instances they started.

The rules are set out in `admin/service.py`; this module carries them out.

Locks: the instance the administrator names is locked first, then the running
instances below it one level at a time (its children, then theirs ...), each level
in id order and with one statement. A level is read only once the level above it is
locked, so no instance can meanwhile start a child the walk would miss; and two
administrators' calls on nested instances (the top and one of its children) take
the locks they share in the same order, so they cannot deadlock.

Which suspension holds an instance is in its history: its last `instance_suspended`
entry names, in `details.cascade_from`, the instance an administrator suspended when
the suspension came from above; an administrator's own suspension names none. (The
hash-chained history already is the record of who suspended what and why; a column
of `instances` would repeat it and need a migration.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.app import ServiceContext
from bpm_common.errors import Conflict
from services.runtime.instances.applier import Step
from services.runtime.instances.models import history, instances
from services.runtime.jobs.worker import release_held_jobs
from services.runtime.operations.actions import instance_action
from services.runtime.work.connector import release_held_work
from services.runtime.work.wakeup import HTTP_WORK, wakeup

#: the key of a cascaded suspension's (and resumption's) history details and event data
CASCADE_FROM = "cascade_from"
SUSPENDED = "instance_suspended"
RESUMED = "instance_resumed"
#: a bound on the walk up the chain of callers (calls nest at most 20 deep, see calls/service.py)
_MAX_CHAIN = 64

_SUSPENDED_CALLER = text(
    """
    WITH RECURSIVE up(id, parent, suspended, depth) AS (
        SELECT id, parent_instance_id, suspended, 1 FROM instances
        WHERE id = :parent AND state = 'active'
        UNION ALL
        SELECT i.id, i.parent_instance_id, i.suspended, u.depth + 1
        FROM instances i JOIN up u ON i.id = u.parent
        WHERE i.state = 'active' AND u.depth < :limit
    )
    SELECT id FROM up WHERE suspended ORDER BY depth LIMIT 1
    """
)


async def last_suspensions(session: AsyncSession, ids: Iterable[UUID]) -> dict[UUID, tuple[UUID | None, str | None]]:
    """For each of `ids` that was ever suspended: the instance its last suspension came
    from (None for an administrator's own) and that suspension's reason."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(history.c.instance_id, history.c.comment, history.c.details[CASCADE_FROM].astext)
        .where(history.c.instance_id.in_(wanted), history.c.action == SUSPENDED)
        .ext(distinct_on(history.c.instance_id))
        .order_by(history.c.instance_id, history.c.id.desc())
    )
    return {row[0]: (UUID(row[2]) if row[2] else None, row[1]) for row in rows}


async def suspended_by(session: AsyncSession, instance_id: UUID) -> UUID | None:
    """The instance whose suspension holds `instance_id`, when that came from above."""
    return (await last_suspensions(session, [instance_id])).get(instance_id, (None, None))[0]


class Suspensions:
    """Suspensions and resumptions of one unit of work; `actor` is who caused them."""

    def __init__(self, session: AsyncSession, ctx: ServiceContext, actor: str | None) -> None:
        self.session = session
        self.ctx = ctx
        self.actor = actor

    async def suspend(self, instance_id: UUID, reason: str) -> None:
        """Suspend the instance and every running instance below it that is not
        suspended yet (409 when it is suspended already)."""
        async with self._action(instance_id, reason) as step:
            if step.row.suspended:
                origin = await suspended_by(self.session, instance_id)
                held = f" with the instance {origin} that called it" if origin else ""
                raise Conflict(f"process instance {instance_id} is already suspended{held}")
            below = await self._walk(
                self._running_children([instance_id]), lambda rows: self._suspend_rows(rows, instance_id, reason)
            )
            await self._mark(step, True, reason, cascaded=below)

    async def resume(self, instance_id: UUID, reason: str) -> None:
        """Resume the instance and the instances below it whose suspension came from it.
        409 when it is not suspended, or while an instance above it is suspended."""
        async with self._action(instance_id, reason) as step:
            if not step.row.suspended:
                raise Conflict(f"process instance {instance_id} is not suspended")
            await self._refuse_under_suspended_caller(step)
            below = await self._walk(
                self._running_children([instance_id]), lambda rows: self._resume_rows(rows, instance_id, reason)
            )
            await self._mark(step, False, reason, cascaded=below)

    async def suspend_called(self, parent: Step, child_id: UUID) -> None:
        """A call activity of the suspended instance `parent` has just started `child_id`
        (an administrator moved or skipped its token onto it): the child, and whatever it
        started at once, are suspended from the same origin with the same reason."""
        last = await last_suspensions(self.session, [parent.row.id])
        origin, reason = last.get(parent.row.id, (None, None))
        origin = origin or parent.row.id
        reason = reason or f"the calling instance {parent.row.id} is suspended"
        await self._walk(
            self._locked(instances.c.id == child_id), lambda rows: self._suspend_rows(rows, origin, reason)
        )

    # -- the walk ----------------------------------------------------------------------

    def _action(self, instance_id: UUID, reason: str | None) -> Any:
        return instance_action(
            self.session, self.ctx, instance_id, actor=self.actor, reason=reason, allow_suspended=True
        )

    def _running_children(self, parents: Sequence[UUID]) -> Any:
        return self._locked(instances.c.parent_instance_id.in_(parents))

    def _locked(self, where: Any) -> Any:
        """The running instances `where` selects, locked in id order (one statement:
        PostgreSQL locks the rows in the order it returns them)."""
        return (
            select(instances.c.id, instances.c.suspended)
            .where(where, instances.c.state == "active")
            .order_by(instances.c.id)
            .with_for_update()
        )

    async def _walk(self, first: Any, change: Any) -> list[UUID]:
        """Lock the level `first` selects, then each level below it. `change(rows)` changes
        what it must of a locked level and returns the ids it changed and those whose
        children come next."""
        changed: list[UUID] = []
        query = first
        while True:
            rows = (await self.session.execute(query)).all()
            if not rows:
                return changed
            done, through = await change(rows)
            changed.extend(done)
            if not through:
                return changed
            query = self._running_children(through)

    async def _suspend_rows(self, rows: Sequence[Any], origin: UUID, reason: str) -> tuple[list[UUID], list[UUID]]:
        done = []
        for row in rows:
            if row.suspended:  # on its own, or from above: it stays as it is
                continue
            async with self._action(row.id, reason) as step:
                await self._mark(step, True, reason, origin=origin)
            done.append(row.id)
        return done, [row.id for row in rows]

    async def _resume_rows(self, rows: Sequence[Any], origin: UUID, reason: str) -> tuple[list[UUID], list[UUID]]:
        """Resume the rows `origin`'s suspension holds; below a row that stays suspended
        nothing is resumed (an instance runs only while its callers run)."""
        last = await last_suspensions(self.session, [row.id for row in rows if row.suspended])
        done = []
        for row in rows:
            if not row.suspended or last.get(row.id, (None, None))[0] != origin:
                continue  # running, or suspended on its own (or from another instance)
            async with self._action(row.id, reason) as step:
                await self._mark(step, False, reason, origin=origin)
            done.append(row.id)
        return done, [row.id for row in rows if not row.suspended or row.id in done]

    async def _refuse_under_suspended_caller(self, step: Step) -> None:
        """409 while an instance above this one is suspended: an instance runs only while
        every instance that called it runs."""
        parent = step.row.parent_instance_id
        if parent is None:
            return
        caller = (
            await self.session.execute(_SUSPENDED_CALLER, {"parent": parent, "limit": _MAX_CHAIN})
        ).scalar_one_or_none()
        if caller is None:
            return
        origin = await suspended_by(self.session, caller) or caller
        raise Conflict(
            f"process instance {step.row.id} cannot be resumed while the instance {caller} that called it "
            f"is suspended: resume {origin}"
        )

    async def _mark(
        self,
        step: Step,
        suspended: bool,
        reason: str,
        *,
        origin: UUID | None = None,
        cascaded: Sequence[UUID] = (),
    ) -> None:
        """Set the flag, and record it in the instance's history and events. A resume makes
        what the suspension put off due at once: timers, deadlines and reports of called
        instances that fell due meanwhile, HTTP calls handed back (with an answer kept)."""
        await self.session.execute(
            update(instances).where(instances.c.id == step.row.id).values(suspended=suspended)
        )
        if not suspended:
            jobs = await release_held_jobs(self.session, step.row.id)
            work = await release_held_work(self.session, step.row.id)
            runner = self.ctx.extras.get("jobs")
            if jobs and runner is not None:
                step.count_after_commit(runner.wake)
            if work:
                step.count_after_commit(wakeup(self.ctx, HTTP_WORK).notify)
        step.row.suspended = suspended
        action = SUSPENDED if suspended else RESUMED
        details: dict[str, Any] = {}
        if origin is not None:
            details[CASCADE_FROM] = str(origin)
        if cascaded:
            details["cascaded_to"] = [str(i) for i in cascaded]
        step.history.add(action, step.now, actor=self.actor, comment=reason, details=details or None)
        step.event(
            action.replace("_", "."),
            {
                **step.instance_common(),
                "actor": self.actor,
                "reason": reason,
                "at": step.now,
                CASCADE_FROM: str(origin) if origin is not None else None,
            },
        )
