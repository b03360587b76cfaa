"""Events as the designer and the runtime publish them (docs/events.md), to drive the notifier."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from bpm_common.events.envelope import Event, new_event
from bpm_common.ids import new_id

DUE = dt.datetime(2026, 3, 3, 17, 30, tzinfo=dt.UTC)


def iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def ago(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)


def user_upserted(
    username: str,
    *,
    sequence: int = 1,
    roles: list[str] | None = None,
    email: str | None = None,
    locale: str = "en",
    active: bool = True,
    department: str | None = None,
    display_name: str | None = None,
) -> Event:
    return new_event(
        "bpm.designer.org.user.upserted",
        username,
        {
            "username": username,
            "display_name": display_name or username.title(),
            "email": email if email is not None else f"{username}@example.com",
            "department": department,
            "roles": roles or [],
            "locale": locale,
            "active": active,
        },
        source="designer",
        sequence=sequence,
    )


def user_deleted(username: str, *, sequence: int) -> Event:
    return new_event(
        "bpm.designer.org.user.deleted",
        username,
        {"username": username},
        source="designer",
        sequence=sequence,
    )


def department_upserted(key: str, *, sequence: int = 1, manager: str | None = None) -> Event:
    return new_event(
        "bpm.designer.org.department.upserted",
        key,
        {"key": key, "name": key.title(), "parent": None, "manager": manager},
        source="designer",
        sequence=sequence,
    )


def department_deleted(key: str, *, sequence: int) -> Event:
    return new_event(
        "bpm.designer.org.department.deleted",
        key,
        {"key": key},
        source="designer",
        sequence=sequence,
    )


class Instance:
    """One process instance; each event it makes carries the next `sequence` of the instance."""

    def __init__(
        self,
        key: str = "expense-reimbursement",
        *,
        initiator: str = "alice",
        business_key: str = "EXP-2026-042",
    ) -> None:
        self.id = new_id()
        self.key, self.initiator, self.business_key = key, initiator, business_key
        self._sequence = itertools.count(1)

    def _event(self, kind: str, data: dict[str, Any], *, time: dt.datetime | None = None) -> Event:
        return new_event(
            f"bpm.runtime.{kind}",
            self.id,
            {"instance_id": self.id, "definition_key": self.key, "definition_version": 3, **data},
            source="runtime",
            sequence=next(self._sequence),
            time=time,
        )

    def task_created(
        self,
        name: str = "Finance review",
        *,
        assignee: str | None = None,
        candidate_users: list[str] | None = None,
        candidate_roles: list[str] | None = None,
        due_at: dt.datetime | None = DUE,
        time: dt.datetime | None = None,
        task_id: str | None = None,
    ) -> Event:
        return self._event(
            "task.created",
            {
                "task_id": task_id or new_id(),
                "node_id": "finance_review",
                "name": name,
                "assignee": assignee,
                "candidate_users": candidate_users or [],
                "candidate_roles": candidate_roles or [],
                "due_at": iso(due_at) if due_at else None,
                "created_at": iso(dt.datetime.now(dt.UTC)),
                "initiator": self.initiator,
                "business_key": self.business_key,
                "trial": False,
            },
            time=time,
        )

    def task_completed(
        self,
        task_id: str,
        *,
        actor: str = "carol",
        outcome: str | None = None,
        comment: str = "ok",
    ) -> Event:
        return self._event(
            "task.completed",
            {
                "task_id": task_id,
                "node_id": "finance_review",
                "name": "Finance review",
                "actor": actor,
                "created_at": iso(ago(hours=1)),
                "completed_at": iso(dt.datetime.now(dt.UTC)),
                "comment": comment,
                "outcome": outcome,
                "trial": False,
            },
        )

    def _task_event(self, event_type: str, task_id: str, **data: Any) -> Event:
        return self._event(
            event_type,
            {
                "task_id": task_id,
                "node_id": "finance_review",
                "name": "Finance review",
                "trial": False,
                "initiator": self.initiator,
                "business_key": self.business_key,
                "at": iso(dt.datetime.now(dt.UTC)),
                **data,
            },
        )

    def task_assigned(
        self, task_id: str, assignee: str, *, previous: str | None, kind: str, actor: str
    ) -> Event:
        return self._task_event(
            "task.assigned",
            task_id,
            assignee=assignee,
            previous_assignee=previous,
            owner=None,
            kind=kind,
            actor=actor,
            reason="on leave",
        )

    def task_returned(self, task_id: str, *, actor: str = "carol") -> Event:
        return self._task_event(
            "task.returned",
            task_id,
            actor=actor,
            reason="receipt missing",
            target_node_id="submit",
            target_node_name="Submit expense",
        )

    def task_reminder(self, kind: str, task_id: str, **audience: Any) -> Event:
        return self._task_event(
            f"task.{kind}",
            task_id,
            assignee=audience.get("assignee"),
            candidate_users=audience.get("candidate_users", []),
            candidate_roles=audience.get("candidate_roles", []),
            due_at=iso(DUE),
            actor=audience.get("actor"),
            message=audience.get("message"),
            action=audience.get("action"),
        )

    def task_escalated(self, task_id: str, *, assignee: str, escalated_to: list[str]) -> Event:
        return self._task_event(
            "task.escalated",
            task_id,
            assignee=assignee,
            escalated_to=escalated_to,
            due_at=iso(DUE),
            level=1,
        )

    def copied(self, recipients: list[str], *, actor: str = "bob") -> Event:
        return self._event(
            "copy.created",
            {
                "copy_id": new_id(),
                "node_id": "finance_review",
                "recipients": recipients,
                "actor": actor,
                "message": "for your records",
                "at": iso(dt.datetime.now(dt.UTC)),
                "initiator": self.initiator,
                "business_key": self.business_key,
            },
        )

    def withdrawn(self, *, actor: str | None = None) -> Event:
        return self._event(
            "instance.withdrawn",
            {
                "actor": actor or self.initiator,
                "reason": "not needed any more",
                "initiator": self.initiator,
                "business_key": self.business_key,
                "started_at": iso(ago(hours=2)),
                "ended_at": iso(dt.datetime.now(dt.UTC)),
                "duration_seconds": 7200,
            },
        )

    def incident(self, message: str = "HTTP call to ERP failed: 503") -> Event:
        return self._event(
            "incident.created",
            {
                "incident_id": new_id(),
                "node_id": "book_payment",
                "message": message,
                "at": iso(dt.datetime.now(dt.UTC)),
            },
        )

    def task_cancelled(self, task_id: str) -> Event:
        return self._event(
            "task.cancelled",
            {
                "task_id": task_id,
                "node_id": "finance_review",
                "name": "Finance review",
                "reason": "boundary timer",
                "cancelled_at": iso(dt.datetime.now(dt.UTC)),
            },
        )

    def completed(self, result: str = "approved") -> Event:
        return self._event(
            "instance.completed",
            {
                "result": result,
                "initiator": self.initiator,
                "started_at": iso(ago(hours=2)),
                "ended_at": iso(dt.datetime.now(dt.UTC)),
                "duration_seconds": 7200,
                "trial": False,
            },
        )
