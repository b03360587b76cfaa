"""The state of one process instance, and its compact JSON form.

The state holds only what changes while an instance runs: where its tokens are, the
scopes they belong to, its variables, and (from the next phase) pending jobs and
subscriptions. The process graph is never copied into it; a state is read together
with the graph of the definition version the instance was started on.

JSON shape (keys with empty values are left out)::

    {
      "v": 1,
      "process": "expense-reimbursement",
      "status": "active",                      # active | completed | terminated
      "initiator": "alice",
      "variables": {"amount": 120, "total": {"$decimal": "10.50"}},
      "tokens": [
        {"id": "7", "node": "review", "task": "8"},           # waits at a user task
        {"id": "9", "node": "join", "via": "flow_3"},         # arrived at a join
        {"id": "11", "node": "approve", "scope": "10", "task": "12"}
      ],
      "scopes": [{"id": "10", "node": "sub", "parent": "", "token": "9"}],
      "jobs": [...], "subscriptions": [...]
    }

Tokens in the instance's root scope leave out ``scope``. Variables keep their types:
``Decimal``, ``datetime`` and ``date`` values are written as one-key objects
(``{"$decimal": "10.50"}``, ``{"$datetime": "..."}``, ``{"$date": "..."}``); a user
map that happens to look like one is wrapped in ``{"$map": {...}}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, NamedTuple

from services.runtime.engine.errors import InvalidCommand, InvalidState

__all__ = [
    "ACTIVE",
    "COMPLETED",
    "ROOT_SCOPE",
    "STATE_VERSION",
    "TERMINATED",
    "InstanceState",
    "Job",
    "Scope",
    "Subscription",
    "Token",
    "clone_variables",
    "copy_variables",
]

STATE_VERSION = 1
ACTIVE = "active"
COMPLETED = "completed"
TERMINATED = "terminated"
_STATUSES = frozenset({ACTIVE, COMPLETED, TERMINATED})

ROOT_SCOPE = ""
"""Id of every instance's root scope (the process itself)."""

_MAX_VARIABLE_DEPTH = 32
_TAGS = frozenset({"$decimal", "$datetime", "$date", "$map"})


class Token(NamedTuple):
    """A token waiting somewhere in the instance.

    ``task`` is set while it waits at a user task, ``via`` (the sequence flow it came
    by) while it waits at a joining gateway. A token waiting at a sub-process is the
    parent of the scope whose ``token`` it is.
    """

    id: str
    node: str
    scope: str = ROOT_SCOPE
    task: str | None = None
    via: str | None = None


class Scope(NamedTuple):
    """A nested scope: an embedded sub-process instance (later also event
    sub-processes and multi-instance bodies). The root scope is implicit."""

    id: str
    node: str
    parent: str
    token: str


class Job(NamedTuple):
    """Work the runtime must do at ``due_at`` and report back (timers)."""

    id: str
    kind: str
    node: str
    token: str
    scope: str
    due_at: datetime


class Subscription(NamedTuple):
    """A token or scope waiting for a message or signal ``name``."""

    id: str
    kind: str
    name: str
    node: str
    token: str
    scope: str
    correlation_key: str | None = None


@dataclass(frozen=True, slots=True)
class InstanceState:
    """Immutable state of one instance; commands return a new one."""

    process_id: str
    status: str
    variables: Mapping[str, Any]
    initiator: str | None
    tokens: tuple[Token, ...]
    scopes: tuple[Scope, ...] = ()
    jobs: tuple[Job, ...] = ()
    subscriptions: tuple[Subscription, ...] = field(default=())

    @property
    def active_nodes(self) -> tuple[str, ...]:
        """BPMN ids of the elements where tokens wait, without repetitions."""
        return tuple(dict.fromkeys(token.node for token in self.tokens))

    def open_tasks(self) -> dict[str, str]:
        """Open user tasks: task id -> BPMN id of the user task."""
        return {token.task: token.node for token in self.tokens if token.task is not None}

    def to_json(self) -> dict[str, Any]:
        """The compact JSON form (plain dicts, lists, strings, numbers, booleans)."""
        data: dict[str, Any] = {
            "v": STATE_VERSION,
            "process": self.process_id,
            "status": self.status,
        }
        if self.initiator is not None:
            data["initiator"] = self.initiator
        data["variables"] = {key: _encode(value) for key, value in self.variables.items()}
        data["tokens"] = [_token_json(token) for token in self.tokens]
        if self.scopes:
            data["scopes"] = [scope._asdict() for scope in self.scopes]
        if self.jobs:
            data["jobs"] = [
                {**job._asdict(), "due_at": job.due_at.isoformat()} for job in self.jobs
            ]
        if self.subscriptions:
            data["subscriptions"] = [_without_none(sub._asdict()) for sub in self.subscriptions]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstanceState:
        """Read the JSON form back; raise :class:`InvalidState` when it is malformed."""
        try:
            if data.get("v") != STATE_VERSION:
                raise InvalidState(f"unsupported instance state version {data.get('v')!r}")
            status = data["status"]
            if status not in _STATUSES:
                raise InvalidState(f"unknown instance status {status!r}")
            variables = data.get("variables") or {}
            if not isinstance(variables, Mapping):
                raise InvalidState("instance variables must be an object")
            tokens = tuple(_token_from_json(item) for item in data.get("tokens", ()))
            scopes = tuple(
                Scope(_str(item["id"]), _str(item["node"]), _str(item["parent"]),
                      _str(item["token"]))
                for item in data.get("scopes", ())
            )
            jobs = tuple(
                Job(_str(item["id"]), _str(item["kind"]), _str(item["node"]),
                    _str(item["token"]), _str(item["scope"]),
                    datetime.fromisoformat(_str(item["due_at"])))
                for item in data.get("jobs", ())
            )
            subscriptions = tuple(
                Subscription(_str(item["id"]), _str(item["kind"]), _str(item["name"]),
                             _str(item["node"]), _str(item["token"]), _str(item["scope"]),
                             item.get("correlation_key"))
                for item in data.get("subscriptions", ())
            )
            initiator = data.get("initiator")
            return cls(
                process_id=_str(data["process"]),
                status=status,
                variables=MappingProxyType(
                    {_str(key): _decode(value) for key, value in variables.items()}
                ),
                initiator=_str(initiator) if initiator is not None else None,
                tokens=tokens,
                scopes=scopes,
                jobs=jobs,
                subscriptions=subscriptions,
            )
        except InvalidState:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
            raise InvalidState(f"the stored instance state is malformed: {exc!r}") from None


def copy_variables(variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate and copy variables passed to a command.

    Keys must be strings; values None, bool, int, finite float or Decimal, str,
    datetime, date, lists (tuples become lists) and maps with string keys. The copy
    shares nothing mutable with the caller's objects.
    """
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise InvalidCommand("variables must be a mapping of names to values")
    result: dict[str, Any] = {}
    for key, value in variables.items():
        if not isinstance(key, str) or not key:
            raise InvalidCommand(f"variable names must be non-empty strings, not {key!r}")
        result[key] = _copy_value(value, key, 0)
    return result


def clone_variables(variables: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of already validated variables that shares no list or map with them."""
    return {key: _clone(value) for key, value in variables.items()}


def _clone(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _clone(item) for key, item in value.items()}
    if kind is list:
        return [_clone(item) for item in value]
    return value


def _copy_value(value: Any, path: str, depth: int) -> Any:
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:
        return value
    if kind is float:
        if not math.isfinite(value):
            raise InvalidCommand(f"variable {path!r}: numbers must be finite")
        return value
    if kind is Decimal:
        if not value.is_finite():
            raise InvalidCommand(f"variable {path!r}: numbers must be finite")
        return value
    if depth >= _MAX_VARIABLE_DEPTH:
        raise InvalidCommand(f"variable {path!r} is nested too deeply")
    if isinstance(value, Mapping):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidCommand(f"variable {path!r}: map keys must be strings")
            copied[key] = _copy_value(item, f"{path}.{key}", depth + 1)
        return copied
    if isinstance(value, (list, tuple)):
        return [_copy_value(item, f"{path}[{index}]", depth + 1)
                for index, item in enumerate(value)]
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    raise InvalidCommand(
        f"variable {path!r} has the unsupported type {type(value).__name__}"
    )


def _encode(value: Any) -> Any:
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int or kind is float:
        return value
    if kind is Decimal:
        return {"$decimal": str(value)}
    if kind is dict or isinstance(value, Mapping):
        encoded = {key: _encode(item) for key, item in value.items()}
        if len(encoded) == 1 and next(iter(encoded)) in _TAGS:
            return {"$map": encoded}
        return encoded
    if kind is list or kind is tuple:
        return [_encode(item) for item in value]
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise InvalidState(f"cannot store a value of type {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            tag, inner = next(iter(value.items()))
            if tag == "$decimal":
                return Decimal(_str(inner))
            if tag == "$datetime":
                return datetime.fromisoformat(_str(inner))
            if tag == "$date":
                return date.fromisoformat(_str(inner))
            if tag == "$map":
                return {key: _decode(item) for key, item in inner.items()}
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _token_json(token: Token) -> dict[str, str]:
    data = {"id": token.id, "node": token.node}
    if token.scope != ROOT_SCOPE:
        data["scope"] = token.scope
    if token.task is not None:
        data["task"] = token.task
    if token.via is not None:
        data["via"] = token.via
    return data


def _token_from_json(item: Mapping[str, Any]) -> Token:
    task = item.get("task")
    via = item.get("via")
    return Token(
        _str(item["id"]),
        _str(item["node"]),
        _str(item.get("scope", ROOT_SCOPE)),
        _str(task) if task is not None else None,
        _str(via) if via is not None else None,
    )


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidState(f"expected a string in the stored state, found {value!r}")
    return value
