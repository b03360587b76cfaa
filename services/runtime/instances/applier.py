"""The one place where an engine result becomes stored state.

`apply_result` walks the result's records in order and hands each to the handler
registered for its type (`@on_record("task_created")`); handlers add task rows,
history entries and outbox events to the `Step`. Then jobs, subscriptions, the
instance row, the history chain and the outbox are written together, inside the
command's unit of work. Domains (tasks, work, messages, approvals, ...) register
their handlers in their own `records.py`; nothing else writes instance state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.app import ServiceContext
from bpm_common.db import WriteBatch, after_commit
from bpm_common.events.envelope import Event, new_event
from bpm_process.engine import InstanceState, ProcessGraph
from services.runtime.instances.history import HistoryWriter
from services.runtime.jobs.models import jobs
from services.runtime.subscriptions.models import subscriptions
from services.runtime.tasks.models import tasks
from services.runtime.work.incidents import JOB_CANCELLED, OF_WORK, close_incidents

SOURCE = "runtime"


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
    suspended: bool = False
    parent_instance_id: UUID | None = None
    parent_call_id: str | None = None


@dataclass
class Step:
    """Everything one command writes, collected while its records are handled."""

    session: AsyncSession
    ctx: ServiceContext
    row: InstanceRow
    graph: ProcessGraph
    now: dt.datetime
    actor: str | None
    history: HistoryWriter
    events: list[Event] = field(default_factory=list)
    new_tasks: list[dict[str, Any]] = field(default_factory=list)
    comment: str | None = None
    completed_task: Mapping[str, Any] | None = None
    submitted: Mapping[str, Any] | None = None
    outcome: str | None = None
    reason: str | None = None
    #: anything a domain's record handlers want to pass on (e.g. child instances to start)
    extras: dict[str, Any] = field(default_factory=dict)
    #: coroutines to run after the records, inside the same unit of work
    followups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    #: the command's writes, sent together (record handlers queue theirs here)
    writes: WriteBatch = field(init=False)
    #: the instance's state before the command, as the command read it (see `state_before`)
    before: InstanceState | None = None

    def state_before(self) -> InstanceState:
        """The instance's state before the command (read once)."""
        if self.before is None:
            self.before = InstanceState.from_json(self.row.engine_state)
        return self.before

    def __post_init__(self) -> None:
        self.writes = WriteBatch(self.session)

    def event(self, name: str, data: dict[str, Any]) -> None:
        """Queue `bpm.runtime.<name>` for the outbox, numbered in the instance's sequence."""
        self.row.event_sequence += 1
        self.events.append(
            new_event(
                f"bpm.runtime.{name}", str(self.row.id), jsonutil.jsonable(data),
                source=SOURCE, sequence=self.row.event_sequence,
            )
        )

    def task_common(self, task_id: str, node_id: str, name: str | None) -> dict[str, Any]:
        return {
            "task_id": task_id,
            "instance_id": str(self.row.id),
            "definition_key": self.row.definition_key,
            "definition_version": self.row.definition_version,
            "node_id": node_id,
            "name": name,
            "trial": self.row.trial,
        }

    def instance_common(self) -> dict[str, Any]:
        return {
            "instance_id": str(self.row.id),
            "definition_key": self.row.definition_key,
            "definition_version": self.row.definition_version,
            "initiator": self.row.initiator,
            "business_key": self.row.business_key,
            "trial": self.row.trial,
        }

    def node_name(self, node_id: str | None) -> str | None:
        node = self.graph.nodes.get(node_id) if node_id else None
        return node.name if node is not None else None

    def count_after_commit(self, callback: Callable[[], None]) -> None:
        after_commit(self.session, callback)


RecordHandler = Callable[[Step, Any], Awaitable[None]]
RECORD_HANDLERS: dict[str, list[RecordHandler]] = {}


def on_record(*types: str) -> Callable[[RecordHandler], RecordHandler]:
    """Register a handler of engine record types (see libs/bpm_process/bpm_process/engine/events.py).

    A type may have several handlers; they run in the order they were registered. The
    core handlers (instances/records.py) come first: a domain's records.py imports
    them before registering its own.
    """

    def _register(fn: RecordHandler) -> RecordHandler:
        for record_type in types:
            handlers = RECORD_HANDLERS.setdefault(record_type, [])
            if fn not in handlers:
                handlers.append(fn)
        return fn

    return _register


# Every command ends with these writes: plain SQL on the unit of work's connection (see
# `bpm_common.db.driver_connection`), queued in the step's `WriteBatch` with the record
# handlers' writes and sent as one statement (SQLAlchemy's per-statement work and one
# round trip per table were most of a command's cost).
#: a job a worker has taken (its row locked) is left to it: the worker deletes it itself,
#: finding the timer obsolete, instead of the two waiting on each other's locks (the
#: worker holds the job's row and waits for the instance; the command holds the instance)
_DELETE_JOBS = (
    "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE id = ANY($1::uuid[]) FOR UPDATE SKIP LOCKED)"
)
_DELETE_SUBSCRIPTIONS = "DELETE FROM subscriptions WHERE id = ANY($1::uuid[])"
_UPDATE_INSTANCE = (
    "UPDATE instances SET engine_state = $2, state = $3, result = $4, active_nodes = $5, ended_at = $6,"
    " event_sequence = $7, history_hash = $8 WHERE id = $1"
)
_NOT_SUSPENDED = "UPDATE instances SET suspended = false WHERE id = $1"
_RECORD_STEP = "UPDATE instances SET event_sequence = $2, history_hash = $3 WHERE id = $1"


async def apply_result(step: Step, result: Any) -> None:
    step.extras["result"] = result
    for record in result.events:
        for handler in RECORD_HANDLERS.get(record.type, ()):
            await handler(step, record)
    row, writes = step.row, step.writes
    await writes.insert(tasks, step.new_tasks)
    if result.cancelled_jobs:
        cancelled = [UUID(j) for j in result.cancelled_jobs]
        await writes.change("jobs", _DELETE_JOBS, cancelled)
        # the incidents of jobs that are gone (a timer whose token moved on) are over:
        # nothing is left to retry (sent now: their history entries need their ids)
        await close_incidents(step, OF_WORK, [cancelled], JOB_CANCELLED,
                              "the job is no longer needed: its event was cancelled")
    await writes.insert(
        jobs,
        [
            {
                "id": UUID(job.id),
                "kind": "timer",
                "instance_id": row.id,
                "definition_id": row.definition_id,
                "node_id": job.node,
                "due_at": job.due_at,
                "payload": {"engine_job": job.id},
            }
            for job in result.jobs
        ],
    )
    if result.subscriptions_closed:
        await writes.change(
            "subscriptions", _DELETE_SUBSCRIPTIONS, [UUID(s) for s in result.subscriptions_closed]
        )
    await writes.insert(
        subscriptions,
        [
            {
                "id": UUID(sub.id),
                "instance_id": row.id,
                "kind": sub.kind,
                "name": sub.name,
                "correlation_key": sub.correlation_key,
                "node_id": sub.node,
            }
            for sub in result.subscriptions_opened
        ],
    )
    if step.followups:
        await writes.flush()  # a followup (a child instance, ...) sees everything written so far
    for followup in step.followups:
        await followup()
    status = result.status
    row.state = status
    await step.history.write_to(writes)
    await writes.change(
        "instances",
        _UPDATE_INSTANCE,
        row.id,
        jsonutil.dumps(result.state.to_json()),
        status,
        result.result,
        list(result.active_nodes),
        step.now if status != "active" else None,
        row.event_sequence,
        step.history.last_hash,
    )
    if row.suspended and status != "active":
        # an instance that ends is no longer suspended: it could never be resumed
        await writes.change("instances", _NOT_SUSPENDED, row.id)
        row.suspended = False
    await step.ctx.events.add_to(writes, *step.events)
    await writes.flush()


async def record_step(step: Step) -> None:
    """Write what a step collected when no engine command ran (a task changed hands,
    the instance was suspended, ...): its history entries, continuing the chain, the
    instance's event sequence and last hash, and its outbox events. The caller holds
    the instance lock (`InstanceCommands.lock`)."""
    row, writes = step.row, step.writes
    await step.history.write_to(writes)
    await writes.change("instances", _RECORD_STEP, row.id, row.event_sequence, step.history.last_hash)
    await step.ctx.events.add_to(writes, *step.events)
    await writes.flush()


def variables_details(step: Step) -> dict[str, Any]:
    """The history's record of the variables the step was given: `variables`, and in
    `variables_before` the old values of those it changed (None for a new one). Empty when
    it was given none."""
    if not step.submitted:
        return {}
    submitted = dict(step.submitted)
    before = values_before(step, submitted)
    changed = {name: value for name, value in before.items() if value != submitted[name]}
    return {"variables": submitted, "variables_before": changed} if changed else {"variables": submitted}


def values_before(step: Step, names: Iterable[str]) -> dict[str, Any]:
    """The values the instance held for `names` before the step, for the history's before
    and after."""
    return variable_values(step.state_before(), names)


def variable_values(state: InstanceState, names: Iterable[str]) -> dict[str, Any]:
    """The values of `names` in `state`: in the instance, or in the innermost scope that
    holds each; None for a name nothing holds."""
    found: dict[str, Any] = {}
    for name in names:
        if name in state.variables:
            found[name] = state.variables[name]
            continue
        for scope in reversed(state.scopes):
            if name in scope.variables:
                found[name] = scope.variables[name]
                break
        else:
            found[name] = None
    return found
