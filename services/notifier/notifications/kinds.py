"""What a notification can be about, and the traits each kind has."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    TASK_ASSIGNED = "task_assigned"  # a task is the person's alone (assigned, transferred, ...)
    TASK_OFFERED = "task_offered"  # a task any of several people may take
    TASK_DUE_SOON = "task_due_soon"
    TASK_OVERDUE = "task_overdue"
    TASK_ESCALATED = "task_escalated"  # to the assignee's manager, the initiator, ...
    TASK_URGED = "task_urged"  # someone asks the person to hurry (催办)
    TASK_REJECTED = "task_rejected"  # to the initiator: a step rejected their request
    TASK_RETURNED = "task_returned"  # to the initiator: sent back to an earlier step
    INSTANCE_WITHDRAWN = "instance_withdrawn"  # to the people whose tasks went with it
    COPIED = "copied"  # carbon copy (抄送)
    INSTANCE_COMPLETED = "instance_completed"  # to the initiator
    INCIDENT = "incident"  # to administrators
    DIGEST = "digest"  # the daily list of a person's open tasks


#: sent at once whatever the quiet hours say
URGENT_KINDS = frozenset({Kind.TASK_OVERDUE, Kind.TASK_ESCALATED, Kind.INCIDENT})

#: kinds that ask the person to act on a task, until the task is closed
ACTIONABLE_KINDS = frozenset(
    {
        Kind.TASK_ASSIGNED,
        Kind.TASK_OFFERED,
        Kind.TASK_DUE_SOON,
        Kind.TASK_OVERDUE,
        Kind.TASK_ESCALATED,
        Kind.TASK_URGED,
    }
)

#: kinds whose chat messages carry approve/reject links (the recipient may work the task)
APPROVABLE_KINDS = frozenset(
    {Kind.TASK_ASSIGNED, Kind.TASK_OFFERED, Kind.TASK_DUE_SOON, Kind.TASK_OVERDUE, Kind.TASK_URGED}
)

#: kinds that a person on the daily digest does not get one by one on outgoing channels
DIGESTED_KINDS = frozenset({Kind.TASK_ASSIGNED, Kind.TASK_OFFERED, Kind.TASK_DUE_SOON})
