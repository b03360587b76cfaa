"""Errors the engine raises for commands it refuses.

Every error carries the HTTP status the runtime should answer with and a stable
``code``; none of them is raised after the input state was changed, because commands
never change their input (see :mod:`bpm_process.engine.execution`).
"""

from __future__ import annotations

__all__ = [
    "EngineError",
    "ExpressionFailed",
    "InstanceNotActive",
    "InvalidCommand",
    "InvalidState",
    "JobNotFound",
    "NoPathFound",
    "NotAllowed",
    "StepLimitExceeded",
    "SubscriptionNotFound",
    "TaskNotActive",
    "WorkNotActive",
]


class EngineError(Exception):
    """Base class: a command cannot be carried out."""

    status_code = 422
    code = "engine_error"

    def __init__(self, message: str, *, element_id: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.element_id = element_id
        #: the argument at fault, as the API names it (``variables.amount``), when known
        self.field = field


class NoPathFound(EngineError):
    """No outgoing sequence flow could be taken (no condition matched, no default)."""

    code = "no_path"


class ExpressionFailed(EngineError):
    """An expression of the model failed while the command ran (condition, assignment,
    due date)."""

    code = "expression_failed"


class StepLimitExceeded(EngineError):
    """The command moved tokens through too many elements without reaching a wait
    state, which means the model loops without a wait state."""

    code = "step_limit"


class TaskNotActive(EngineError):
    """The task is unknown to this instance or was already completed or cancelled."""

    status_code = 409
    code = "task_not_active"


class InstanceNotActive(EngineError):
    """The instance has completed or was terminated."""

    status_code = 409
    code = "instance_not_active"


class InvalidCommand(EngineError):
    """The command's arguments are unusable (naive datetime, bad variables, unknown
    start event ...)."""

    code = "invalid_command"


class InvalidState(EngineError):
    """A stored instance state cannot be read or does not belong to this process graph."""

    status_code = 500
    code = "invalid_state"


class JobNotFound(EngineError):
    """The timer job is unknown to the instance: it fired already or was cancelled.
    The runtime may drop the job and ignore this error."""

    status_code = 404
    code = "job_not_found"


class SubscriptionNotFound(EngineError):
    """No subscription of the instance matches the message or signal. The runtime may
    ignore this error (the instance stopped waiting)."""

    status_code = 404
    code = "subscription_not_found"


class WorkNotActive(EngineError):
    """The work item or call activity is unknown to this instance or was already
    completed or cancelled (a late worker, a second completion)."""

    status_code = 409
    code = "work_not_active"


class NotAllowed(EngineError):
    """The operation cannot be applied here (no such return target, the last signer
    cannot be removed, a token cannot be moved into another scope ...)."""

    status_code = 409
    code = "not_allowed"
