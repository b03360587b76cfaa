"""The records a command emits, in the order things happened.

The runtime turns them into history rows and outbox events. They are immutable and
small; all of them happen at the command's ``now``, which is why they carry no time.
Activity records for a given node are identical in every instance, so the compiled
graph creates them once and commands reuse them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple

__all__ = [
    "ActivityCancelled",
    "ActivityCompleted",
    "ActivityStarted",
    "ApprovalDecided",
    "CallActivityCancelled",
    "CallActivityCompleted",
    "CallActivityStarted",
    "CopyRequested",
    "ErrorUnhandled",
    "EscalationUnhandled",
    "Event",
    "EventTriggered",
    "IncidentCreated",
    "IncidentResolved",
    "InstanceCompleted",
    "InstanceMigrated",
    "InstanceRejected",
    "InstanceTerminated",
    "InstanceWithdrawn",
    "MessageThrown",
    "NodeSkipped",
    "SignalThrown",
    "SignerAdded",
    "SignerRemoved",
    "TaskCancelled",
    "TaskCompleted",
    "TaskCreated",
    "TaskSpec",
    "TokenCancelled",
    "TokenMoved",
    "VariablesUpdated",
    "WorkCancelled",
    "WorkCompleted",
    "WorkCreated",
    "WorkFailed",
    "approval_decided",
]


class _Record:
    """Shared behaviour: ``type`` names the record, :meth:`to_dict` gives plain JSON."""

    __slots__ = ()
    type: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"type": self.type}
        for field in fields(self):  # type: ignore[arg-type]
            result[field.name] = _plain(getattr(self, field.name))
        return result


def _plain(value: Any) -> Any:
    if isinstance(value, TaskSpec):
        return value.to_dict()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class TaskSpec(NamedTuple):
    """A user task as created: who may work it, by when, with which form. (A named
    tuple: one is built for every task.)"""

    id: str
    node_id: str
    name: str | None
    assignee: str | None
    candidate_users: tuple[str, ...]
    candidate_groups: tuple[str, ...]
    """Role names of the organisation model."""
    due_at: datetime | None
    """Aware, in UTC."""
    priority: int
    form_key: str | None
    documentation: str | None
    assignment_rules: tuple[str, ...] = ()
    """``bpm:assignment`` rules (canonical text, see :mod:`bpm_process.assignment`): the
    runtime adds the people they resolve to as candidates."""
    time_limit: str | None = None
    """``bpm:timeLimit`` (expression evaluated): an ISO 8601 duration of working time
    from which the runtime computes ``due_at`` with the business calendar."""
    remind_before: str | None = None
    """ISO 8601 duration before the due time at which the task is due soon (set with a
    time limit; ``PT1H`` unless ``bpm:remindBefore`` says otherwise)."""
    timeout_action: str | None = None
    """What the task does when it is overdue: ``escalate`` (the default with a time
    limit), ``auto_approve``, ``auto_reject``, ``reassign`` or ``none``; ``None`` when
    the model names no time limit and no action."""
    timeout_reassign_to: tuple[str, ...] = ()
    """``bpm:timeoutReassignTo`` rules: who takes over with ``timeout_action`` ``reassign``."""

    def to_dict(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in self._fields}


@dataclass(frozen=True, slots=True)
class ActivityStarted(_Record):
    """A token entered a flow node (event, activity or gateway). A synchronising
    gateway reports it once, when it fires, not for every arriving token."""

    type: ClassVar[str] = "activity_started"
    node_id: str
    node_name: str | None
    node_kind: str


@dataclass(frozen=True, slots=True)
class ActivityCompleted(_Record):
    """A token left a flow node normally."""

    type: ClassVar[str] = "activity_completed"
    node_id: str
    node_name: str | None
    node_kind: str


@dataclass(frozen=True, slots=True)
class ActivityCancelled(_Record):
    """A token was removed from a flow node before it completed (terminate end event)."""

    type: ClassVar[str] = "activity_cancelled"
    node_id: str
    node_name: str | None
    node_kind: str


class TaskCreated(NamedTuple):
    """A user task was created. (Like :class:`TaskCompleted` a named tuple, because
    one is built on almost every command.)"""

    task: TaskSpec
    type = "task_created"  # a class attribute, not a field

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "task": self.task.to_dict()}


class TaskCompleted(NamedTuple):
    task_id: str
    node_id: str
    actor: str | None
    outcome: str | None = None
    """``approve`` or ``reject`` for an approval task."""
    type = "task_completed"  # a class attribute, not a field

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **{name: getattr(self, name) for name in self._fields}}


@dataclass(frozen=True, slots=True)
class TaskCancelled(_Record):
    type: ClassVar[str] = "task_cancelled"
    task_id: str
    node_id: str
    reason: str
    """Why: ``terminated`` (a terminate end event or an administrator),
    ``interrupted`` (an interrupting boundary event or event sub-process),
    ``completed`` (a multi-instance completed early), ``rejected`` (an approval was
    rejected), ``returned``, ``moved``, ``skipped``, ``withdrawn``, ``cancelled``,
    ``signer_removed``, ``signer_before``, ``error`` or ``migrated``."""


@dataclass(frozen=True, slots=True)
class InstanceCompleted(_Record):
    """The last token of the instance reached an end."""

    type: ClassVar[str] = "instance_completed"


@dataclass(frozen=True, slots=True)
class InstanceTerminated(_Record):
    """The instance was ended before it completed: by a terminate end event
    (``node_id`` is that event), an uncaught BPMN error (``node_id`` is where it was
    thrown), or a command (``node_id`` is ``None``)."""

    type: ClassVar[str] = "instance_terminated"
    node_id: str | None
    reason: str = "terminate_end_event"
    """``terminate_end_event``, ``error_unhandled``, ``withdrawn`` or the reason the
    administrator gave."""


@dataclass(frozen=True, slots=True)
class InstanceRejected(_Record):
    """An approval at ``node_id`` was rejected and its ``bpm:rejectAction="end"`` ends
    the instance (followed by ``instance_completed``; the state's ``result`` is
    ``rejected``)."""

    type: ClassVar[str] = "instance_rejected"
    node_id: str


@dataclass(frozen=True, slots=True)
class InstanceWithdrawn(_Record):
    """The initiator withdrew the instance (followed by ``instance_terminated``)."""

    type: ClassVar[str] = "instance_withdrawn"
    reason: str | None


@dataclass(frozen=True, slots=True)
class InstanceMigrated(_Record):
    """The instance now runs on another version of its process."""

    type: ClassVar[str] = "instance_migrated"
    from_process: str
    to_process: str
    mapping: dict[str, str]


@dataclass(frozen=True, slots=True)
class EventTriggered(_Record):
    """A catching event fired: a timer, a correlated message, a received signal, a
    caught error or escalation. ``node_id`` is the catching event."""

    type: ClassVar[str] = "event_triggered"
    node_id: str
    trigger: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class MessageThrown(_Record):
    """A message throw event or send task sent a message; the runtime may correlate
    it to a waiting instance or start one."""

    type: ClassVar[str] = "message_thrown"
    node_id: str
    name: str
    correlation_key: str | None
    variables: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SignalThrown(_Record):
    """A signal was thrown; the runtime broadcasts it (``receive_signal`` on every
    instance that waits for it, this one included, and signal start events)."""

    type: ClassVar[str] = "signal_thrown"
    node_id: str
    name: str
    variables: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ErrorUnhandled(_Record):
    """A BPMN error found no catching event: the instance is terminated (an
    ``instance_terminated`` record with reason ``error_unhandled`` follows). The runtime
    records the error in the history and passes it to a calling instance."""

    type: ClassVar[str] = "error_unhandled"
    node_id: str
    error_code: str | None
    message: str | None


@dataclass(frozen=True, slots=True)
class EscalationUnhandled(_Record):
    """An escalation found no catching event in the instance: nothing changes here (the
    thrower goes on), and a called instance's runtime passes it to the calling instance's
    call activity (:func:`~bpm_process.engine.commands.escalate_call_activity`), as BPMN
    and Camunda do."""

    type: ClassVar[str] = "escalation_unhandled"
    node_id: str
    escalation_code: str | None


@dataclass(frozen=True, slots=True)
class WorkCreated(_Record):
    """An automated step waits for an external worker (``kind`` ``external``: fetch and
    lock by ``topic``) or for the runtime's HTTP connector (``kind`` ``http``: send
    ``request``). Report back with ``complete_work``, ``fail_work`` or
    ``throw_work_error``."""

    type: ClassVar[str] = "work_created"
    work_id: str
    node_id: str
    node_name: str | None
    kind: str
    topic: str | None
    request: dict[str, Any] | None
    """``{"method", "url", "headers", "body"}`` with expressions evaluated."""
    variables: dict[str, Any]
    """The input variables for the worker (input mappings, or all visible ones)."""
    retries: int
    retry_backoff: str | None
    """ISO 8601 duration to wait between attempts."""
    timeout: str | None
    """ISO 8601 duration: how long one attempt (or a worker's lock) may take."""
    priority: int | None
    headers: dict[str, str]
    """Static task headers (``zeebe:taskHeaders``)."""


@dataclass(frozen=True, slots=True)
class WorkCompleted(_Record):
    type: ClassVar[str] = "work_completed"
    work_id: str
    node_id: str


@dataclass(frozen=True, slots=True)
class WorkFailed(_Record):
    """An attempt failed; with retries left the runtime tries again at ``retry_at``."""

    type: ClassVar[str] = "work_failed"
    work_id: str
    node_id: str
    error_message: str | None
    retries_left: int
    retry_at: datetime | None


@dataclass(frozen=True, slots=True)
class WorkCancelled(_Record):
    """The token left without the work (boundary event, termination ...): the runtime
    drops the work item."""

    type: ClassVar[str] = "work_cancelled"
    work_id: str
    node_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class IncidentCreated(_Record):
    """Work failed with no retries left; the token waits until ``retry_work``."""

    type: ClassVar[str] = "incident_created"
    incident_id: str
    work_id: str
    node_id: str
    message: str | None


@dataclass(frozen=True, slots=True)
class IncidentResolved(_Record):
    type: ClassVar[str] = "incident_resolved"
    incident_id: str
    work_id: str
    node_id: str


@dataclass(frozen=True, slots=True)
class CallActivityStarted(_Record):
    """Start an instance of ``called_element`` for the call activity; report its end
    with ``complete_call_activity`` or ``fail_call_activity``."""

    type: ClassVar[str] = "call_activity_started"
    call_id: str
    node_id: str
    called_element: str
    binding: str
    """``latest``, ``deployment``, ``version`` or ``versionTag``."""
    version: str | None
    version_tag: str | None
    variables: dict[str, Any]
    business_key: str | None
    inherit_business_key: bool = False
    """The child takes the calling instance's business key (which the engine does not hold)."""


@dataclass(frozen=True, slots=True)
class CallActivityCompleted(_Record):
    type: ClassVar[str] = "call_activity_completed"
    call_id: str
    node_id: str


@dataclass(frozen=True, slots=True)
class CallActivityCancelled(_Record):
    """The parent no longer waits: the runtime terminates the called instance."""

    type: ClassVar[str] = "call_activity_cancelled"
    call_id: str
    node_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ApprovalDecided(_Record):
    """An approval node decided (``approved`` or ``rejected``); the outcome is also in
    the variable ``<node_id>_outcome``."""

    type: ClassVar[str] = "approval_decided"
    node_id: str
    outcome: str
    approved: int
    rejected: int
    instances: int


_SET_APPROVAL_FIELDS = tuple(ApprovalDecided.__dict__[field.name].__set__
                             for field in fields(ApprovalDecided))


def approval_decided(node_id: str, outcome: str, approved: int, rejected: int,
                     instances: int) -> ApprovalDecided:
    """``ApprovalDecided(...)``, made by setting its slots directly: the frozen
    dataclass's ``__init__`` sets every field through ``object.__setattr__``, which
    takes about twice as long (one is made whenever an approval decides)."""
    record = object.__new__(ApprovalDecided)
    set_node_id, set_outcome, set_approved, set_rejected, set_instances = _SET_APPROVAL_FIELDS
    set_node_id(record, node_id)
    set_outcome(record, outcome)
    set_approved(record, approved)
    set_rejected(record, rejected)
    set_instances(record, instances)
    return record


@dataclass(frozen=True, slots=True)
class TokenMoved(_Record):
    """A token was taken from ``from_node`` and put at ``to_node`` (an administrator's
    jump, a return, or a rejected approval's reject action)."""

    type: ClassVar[str] = "token_moved"
    from_node: str
    to_node: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class TokenCancelled(_Record):
    type: ClassVar[str] = "token_cancelled"
    token_id: str
    node_id: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class NodeSkipped(_Record):
    """The token left ``node_id`` as if it had completed (its task was cancelled)."""

    type: ClassVar[str] = "node_skipped"
    node_id: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class SignerAdded(_Record):
    type: ClassVar[str] = "signer_added"
    task_id: str
    """The task the signer was added to."""
    signer_id: str
    """The signer's task id (``parallel``, ``before``) or, for ``after``, the id that
    names the pending signer until its task is created."""
    node_id: str
    user: str
    mode: str


@dataclass(frozen=True, slots=True)
class SignerRemoved(_Record):
    type: ClassVar[str] = "signer_removed"
    signer_id: str
    node_id: str
    user: str
    mode: str


@dataclass(frozen=True, slots=True)
class CopyRequested(_Record):
    """The people named by ``rules`` get a copy of the instance (抄送): a copy node
    (``bpm:copyTo`` on an intermediate throw event, ``kind`` ``copy``) was passed, or a
    node whose RACI names people ``informed`` completed (``kind`` ``informed``). The
    runtime resolves the rules against its organisation model."""

    type: ClassVar[str] = "copy_requested"
    node_id: str
    node_name: str | None
    rules: tuple[str, ...]
    kind: str
    """``copy`` or ``informed``."""


@dataclass(frozen=True, slots=True)
class VariablesUpdated(_Record):
    """Variables were set by ``set_variables``."""

    type: ClassVar[str] = "variables_updated"
    names: tuple[str, ...]


Event = (
    ActivityStarted
    | ActivityCompleted
    | ActivityCancelled
    | TaskCreated
    | TaskCompleted
    | TaskCancelled
    | InstanceCompleted
    | InstanceTerminated
    | InstanceRejected
    | InstanceWithdrawn
    | InstanceMigrated
    | EventTriggered
    | MessageThrown
    | SignalThrown
    | ErrorUnhandled
    | EscalationUnhandled
    | WorkCreated
    | WorkCompleted
    | WorkFailed
    | WorkCancelled
    | IncidentCreated
    | IncidentResolved
    | CallActivityStarted
    | CallActivityCompleted
    | CallActivityCancelled
    | ApprovalDecided
    | TokenMoved
    | TokenCancelled
    | NodeSkipped
    | SignerAdded
    | SignerRemoved
    | VariablesUpdated
    | CopyRequested
)
