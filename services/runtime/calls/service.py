"""Call activities: the called (child) instance starts, ends, and the parent moves on.

Everything happens in the unit of work of the command that caused it: the parent's
command starts the child (`start_on(..., parent=(instance, call id))`), the child's
last command completes or fails the parent's call activity, the parent's
cancellation terminates the child. Two cases cannot use the parent's stored state,
because the parent's command is still being applied: a child that ends while it
starts, and a parent that is suspended. Then a `call_ended` job, written in the same
unit of work, reports the end once the parent can take it.

Locks are taken child-to-parent when a child ends and parent-to-child when a parent
cancels; PostgreSQL resolves the rare deadlock of both at once by refusing one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.app import ServiceContext
from bpm_common.errors import DomainError, NotFound, Unprocessable, field_error
from bpm_common.ids import new_id
from bpm_common.logging import get_logger
from bpm_process.engine import complete_call_activity, escalate_call_activity, fail_call_activity, terminate
from services.runtime.admin.suspension import Suspensions
from services.runtime.definitions.models import definitions
from services.runtime.definitions.service import DefinitionRef, definition_to_start
from services.runtime.instances.applier import InstanceRow, Step
from services.runtime.instances.models import instances
from services.runtime.instances.service import InstanceCommands, utcnow
from services.runtime.jobs.worker import HELD, SUSPENDED_RECHECK, delete_job, hold_job, job_handler, schedule
from services.runtime.work.incidents import CALL_REPORT_DROPPED, OF_WORK, close_incidents

log = get_logger(__name__)

MAX_CALL_DEPTH = 20
CALL_ENDED = "call_ended"
#: the error code a parent receives when its child was terminated by someone (not by an error)
CHILD_TERMINATED = "called_instance_terminated"
#: session.info keys: parents whose call activity is starting a child, children being cancelled
STARTING = "calls.starting"
CANCELLING = "calls.cancelling"

_DEPTH = text(
    """
    WITH RECURSIVE chain(id, parent, depth) AS (
        SELECT id, parent_instance_id, 0 FROM instances WHERE id = :id
        UNION ALL
        SELECT i.id, i.parent_instance_id, c.depth + 1
        FROM instances i JOIN chain c ON i.id = c.parent
        WHERE c.depth < :limit
    )
    SELECT max(depth) FROM chain
    """
)


async def call_depth(session: AsyncSession, instance_id: UUID) -> int:
    """How many calling instances are above this one (0 for a top-level instance)."""
    found = (await session.execute(_DEPTH, {"id": instance_id, "limit": MAX_CALL_DEPTH + 1})).scalar()
    return int(found or 0)


async def called_definition(session: AsyncSession, key: str, binding: str, version: str | None) -> DefinitionRef:
    """The definition a call activity starts: a given version (`binding="version"`), else the
    latest live version (`latest`; `deployment` and `versionTag` have no meaning here and
    are read as `latest`)."""
    if binding == "version" and version is not None:
        if not version.strip().isdigit():
            raise Unprocessable(f"the called version {version!r} is not a version number")
        row = (
            await session.execute(
                select(definitions.c.id, definitions.c.key, definitions.c.version, definitions.c.status,
                       definitions.c.compile_error)
                .where(definitions.c.key == key, definitions.c.version == int(version),
                       definitions.c.status.in_(("published", "deprecated")))
                .order_by(definitions.c.published_at.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            raise NotFound(f"no published version {version} of the process {key!r}")
        if row.compile_error:
            raise Unprocessable(f"definition {key} v{row.version} cannot be executed: {row.compile_error}")
        return DefinitionRef(row.id, row.key, row.version, row.status)
    return await definition_to_start(session, key, frozenset())


async def start_child(step: Step, record: Any) -> None:
    """Start the called instance for `call_activity_started` (a followup of the parent's command)."""
    session, row = step.session, step.row
    if await call_depth(session, row.id) + 1 > MAX_CALL_DEPTH:
        raise Unprocessable(
            f"the call activity {record.node_id!r} would nest more than {MAX_CALL_DEPTH} called instances",
            errors=[field_error(record.node_id, "too deep: does the process call itself without end?")],
        )
    try:
        ref = await called_definition(session, record.called_element, record.binding, record.version)
    except (NotFound, Unprocessable) as exc:
        raise Unprocessable(
            f"the call activity {record.node_id!r} cannot start {record.called_element!r}: {exc.detail}",
            errors=[field_error(record.node_id, exc.detail)],
        ) from exc
    starting: set[UUID] = session.info.setdefault(STARTING, set())
    starting.add(row.id)
    try:
        child = await InstanceCommands(session, step.ctx).start_on(
            ref.id, ref.key, ref.version, trial=ref.status == "trial", initiator=row.initiator,
            variables=dict(record.variables),
            business_key=row.business_key if record.inherit_business_key else record.business_key,
            parent=(row.id, record.call_id), actor=step.actor,
        )
    finally:
        starting.discard(row.id)
    if row.suspended and child["state"] == "active":
        # an administrator moved or skipped a suspended instance's token onto the call
        # activity: the child is suspended with it (see admin/service.py)
        await Suspensions(session, step.ctx, step.actor).suspend_called(step, UUID(child["id"]))
    step.history.add(
        "called_instance_started", step.now, actor=step.actor, node_id=record.node_id,
        node_name=step.node_name(record.node_id),
        details={"call_id": record.call_id, "instance_id": child["id"], "definition_key": ref.key,
                 "definition_version": ref.version},
    )


async def drop_reports(step: Step, call_id: str | None, why: str) -> None:
    """Delete the instance's `call_ended` jobs (of the call `call_id`, or all) and close
    their incidents with `why`. A job the worker holds is skipped (`SKIP LOCKED`, as the
    applier deletes jobs), and so is its incident: the job waits for this instance's
    lock, and finds the call gone."""
    gone = (
        await step.session.execute(
            text(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE instance_id = :instance"
                " AND kind = :kind AND (CAST(:call AS text) IS NULL OR payload->>'call_id' = :call)"
                " FOR UPDATE SKIP LOCKED) RETURNING id"
            ),
            {"instance": step.row.id, "kind": CALL_ENDED, "call": call_id},
        )
    ).scalars().all()
    if gone:
        await close_incidents(step, OF_WORK, [list(gone)], CALL_REPORT_DROPPED, why)


async def terminate_child(step: Step, record: Any) -> None:
    """The parent no longer waits (`call_activity_cancelled`): terminate the called instance
    and drop its reports that still wait."""
    await drop_reports(step, record.call_id, "the call activity was cancelled")
    session, row = step.session, step.row
    child_id = (
        await session.execute(
            select(instances.c.id).where(
                instances.c.parent_instance_id == row.id, instances.c.parent_call_id == record.call_id,
                instances.c.state == "active",
            )
        )
    ).scalar_one_or_none()
    if child_id is None:
        return
    reason = f"the calling instance cancelled the call activity ({record.reason})"
    cancelling: set[UUID] = session.info.setdefault(CANCELLING, set())
    cancelling.add(child_id)
    try:
        async with session.begin_nested():
            await InstanceCommands(session, step.ctx).execute(
                child_id,
                lambda graph, state, now, nid: terminate(graph, state, reason=reason, now=now, new_id=nid),
                actor=step.actor, reason=reason, allow_suspended=True,
            )
    except DomainError as exc:
        if exc.status not in (404, 409):
            raise
        log.info("called_instance_not_terminated", instance_id=str(child_id), reason=exc.detail)
    finally:
        cancelling.discard(child_id)
    step.history.add(
        "called_instance_terminated", step.now, actor=step.actor, node_id=record.node_id,
        node_name=step.node_name(record.node_id),
        details={"call_id": record.call_id, "instance_id": str(child_id), "reason": record.reason},
    )


def child_outcome(step: Step, record: Any, error: tuple[str | None, str | None] | None) -> dict[str, Any]:
    """What the parent learns from the child's end: completed with its variables, or an error code."""
    if record.type == "instance_completed" or record.reason == "terminate_end_event":
        return {"kind": "completed", "variables": step.extras["result"].variables}
    if record.reason == "error_unhandled" and error is not None:
        return {"kind": "error", "code": error[0] or "error", "message": error[1]}
    return {"kind": "error", "code": CHILD_TERMINATED, "message": f"the called instance was {record.reason}"}


async def report_to_parent(step: Step, outcome: dict[str, Any]) -> None:
    """Move the parent on now, or through a `call_ended` job when it cannot take it now."""
    session, row = step.session, step.row
    parent_id, call_id = row.parent_instance_id, row.parent_call_id
    assert parent_id is not None and call_id is not None
    if parent_id in session.info.get(STARTING, ()):
        await _later(step, parent_id, call_id, outcome, step.now)
        return
    commands = InstanceCommands(session, step.ctx)
    parent = await _locked(commands, parent_id)
    if parent is None or parent.state != "active":
        return
    if parent.suspended:
        await _later(step, parent_id, call_id, outcome, step.now + SUSPENDED_RECHECK, held=True)
        return
    try:
        await deliver(commands, parent, call_id, outcome, actor=step.actor, child_id=step.row.id)
    except DomainError as exc:
        # The parent's model cannot take the report (an output mapping fails ...): that is
        # no fault of whoever finished the child, whose work stands. The report waits in a
        # job, which opens an incident on the parent if it keeps failing.
        log.warning("call_report_refused", instance_id=str(parent_id), call_id=call_id, reason=exc.detail)
        await _later(step, parent_id, call_id, outcome, step.now)


async def report_later(step: Step, reports: list[dict[str, Any]]) -> None:
    """Reports that reach the parent in order once this instance is saved: one job."""
    row = step.row
    assert row.parent_instance_id is not None and row.parent_call_id is not None
    await _later(step, row.parent_instance_id, row.parent_call_id, {"reports": reports}, step.now)


async def _locked(commands: InstanceCommands, instance_id: UUID) -> InstanceRow | None:
    """The calling instance, locked before it is looked at: a suspension or an ending that
    commits meanwhile is seen, so the report is neither lost nor delivered to a parent that
    cannot take it."""
    try:
        return await commands.lock(instance_id)
    except NotFound:
        return None


async def _later(
    step: Step, parent_id: UUID, call_id: str, outcome: dict[str, Any], due: dt.datetime, *, held: bool = False
) -> None:
    """The report in a job of the parent's; `held`: put off because the parent is
    suspended (its resume makes the job due, `jobs.worker.release_held_jobs`)."""
    payload = {"call_id": call_id, "child_instance_id": step.row.id, **outcome, **({HELD: True} if held else {})}
    await schedule(step.session, {
        "id": UUID(new_id()), "kind": CALL_ENDED, "instance_id": parent_id, "due_at": due,
        "payload": jsonutil.jsonable(payload),
    })
    runner = step.ctx.extras.get("jobs")
    if runner is not None:
        step.count_after_commit(runner.wake)


async def deliver(
    commands: InstanceCommands,
    parent: InstanceRow,
    call_id: str,
    outcome: Mapping[str, Any],
    *,
    actor: str | None,
    child_id: Any = None,
) -> None:
    """Complete or fail the locked parent's call activity, or escalate from it; a parent that no
    longer waits is left alone. The parent's history names the child and how it ended
    (`called_instance_ended`) or what it escalated (`called_instance_escalated`)."""
    ended = {"call_id": call_id, "instance_id": str(child_id) if child_id else None, "outcome": outcome["kind"]}
    action = "called_instance_ended"
    if outcome["kind"] == "escalation":
        escalation = str(outcome["code"]) if outcome.get("code") else None
        action = "called_instance_escalated"
        ended.update(escalation_code=escalation, node_id=outcome.get("node_id"))

        def command(graph: Any, state: Any, now: Any, nid: Any) -> Any:
            return escalate_call_activity(graph, state, call_id, escalation_code=escalation, now=now, new_id=nid)
    elif outcome["kind"] == "completed":
        variables = dict(outcome.get("variables") or {})
        ended["variables"] = sorted(variables)

        def command(graph: Any, state: Any, now: Any, nid: Any) -> Any:
            return complete_call_activity(graph, state, call_id, output_variables=variables, now=now, new_id=nid)
    else:
        code, message = str(outcome["code"]), outcome.get("message")
        ended.update(error_code=code, message=message)

        def command(graph: Any, state: Any, now: Any, nid: Any) -> Any:
            return fail_call_activity(graph, state, call_id, error_code=code, message=message, now=now, new_id=nid)
    try:
        async with commands.session.begin_nested():
            await commands.execute(parent.id, command, actor=actor, locked=parent,
                                   history=[(action, {"details": ended})])
    except DomainError as exc:
        if exc.status not in (404, 409):
            raise
        log.info("calling_instance_not_waiting", instance_id=str(parent.id), call_id=call_id, reason=exc.detail)


@job_handler(CALL_ENDED)
async def call_ended(session: AsyncSession, ctx: ServiceContext, job: dict[str, Any]) -> None:
    """Report a child's end (or an escalation it did not catch) to a parent that could not
    take it in the child's unit of work."""
    commands = InstanceCommands(session, ctx)
    parent = await _locked(commands, job["instance_id"])
    if parent is not None and parent.state == "active" and parent.suspended:
        await hold_job(session, job["id"], utcnow() + SUSPENDED_RECHECK)
        return
    await delete_job(session, job["id"])
    payload = job["payload"]
    for index, report in enumerate(payload.get("reports") or [payload]):
        if index:  # the report before may have moved or ended the parent: read it again
            parent = await _locked(commands, job["instance_id"])
        if parent is None or parent.state != "active":
            return
        await deliver(commands, parent, str(payload["call_id"]), report, actor=None,
                      child_id=payload.get("child_instance_id"))
