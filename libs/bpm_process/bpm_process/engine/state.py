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
      "result": "rejected",                    # only after a rejecting approval ended it
      "initiator": "alice",
      "variables": {"amount": 120, "total": {"$decimal": "10.50"}},
      "tokens": [
        {"id": "7", "node": "review", "task": "8"},           # waits at a user task
        {"id": "9", "node": "join", "via": "flow_3"},         # arrived at a join
        {"id": "11", "node": "approve", "scope": "10", "task": "12"},
        {"id": "13", "node": "charge", "work": "14"},         # waits for work / a call
        {"id": "15", "node": "sign", "task": "16", "group": "7"}   # a parallel co-signer
      ],
      "scopes": [
        {"id": "10", "node": "sub", "parent": "", "token": "9"},
        {"id": "20", "node": "votes", "parent": "", "token": "21", "kind": "mi",
         "variables": {"nrOfInstances": 3}, "data": {"items": ["a", "b", "c"], "next": 3}},
        {"id": "22", "node": "votes", "parent": "20", "token": "", "kind": "inst",
         "variables": {"loopCounter": 0, "reviewer": "a"}}
      ],
      "jobs": [{"id": "30", "kind": "timer", "node": "reminder", "token": "7",
                "scope": "", "due_at": "2024-03-01T10:00:00+00:00",
                "cycle": "R3/PT1H", "count": 1}],
      "subscriptions": [{"id": "31", "kind": "message", "name": "paid", "node": "wait",
                         "token": "13", "scope": "", "correlation_key": "o-1"}],
      "works": [{"id": "14", "kind": "external", "node": "charge", "token": "13",
                 "scope": "", "retries": 3, "incident": "timeout"}],
      "signers": [{"id": "16", "mode": "parallel", "node": "sign", "token": "15",
                   "user": "dave", "task": "16"}],
      "completed": ["draft", "review"]         # wait-state nodes completed, latest last
    }

Tokens in the instance's root scope leave out ``scope``; scopes of kind ``sub`` (an
embedded sub-process) leave out ``kind``. Scope kinds: ``sub``, ``event`` (an event
sub-process instance), ``mi`` (a multi-instance body: counters in ``variables``, the
collection in ``data``) and ``inst`` (one instance of it, with its local variables).
Variables keep their types:
``Decimal``, ``datetime`` and ``date`` values are written as one-key objects
(``{"$decimal": "10.50"}``, ``{"$datetime": "..."}``, ``{"$date": "..."}``); a user
map that happens to look like one is wrapped in ``{"$map": {...}}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, NamedTuple

from bpm_process.engine.errors import InvalidCommand, InvalidState

__all__ = [
    "ACTIVE",
    "COMPLETED",
    "EVENT_SCOPE",
    "INSTANCE_SCOPE",
    "MI_SCOPE",
    "REJECTED",
    "ROOT_SCOPE",
    "STATE_VERSION",
    "SUB_SCOPE",
    "TERMINATED",
    "InstanceState",
    "Job",
    "Scope",
    "Signer",
    "Subscription",
    "Token",
    "Work",
    "clone_variables",
    "copy_dict",
    "copy_variables",
    "decode_value",
    "encode_value",
]

STATE_VERSION = 1
ACTIVE = "active"
COMPLETED = "completed"
TERMINATED = "terminated"
_STATUSES = frozenset({ACTIVE, COMPLETED, TERMINATED})

ROOT_SCOPE = ""
"""Id of every instance's root scope (the process itself)."""
REJECTED = "rejected"
"""``InstanceState.result`` after a rejected approval ended the instance."""

SUB_SCOPE = "sub"
EVENT_SCOPE = "event"
MI_SCOPE = "mi"
INSTANCE_SCOPE = "inst"
_SCOPE_KINDS = frozenset({SUB_SCOPE, EVENT_SCOPE, MI_SCOPE, INSTANCE_SCOPE})
_NO_VARIABLES: Mapping[str, Any] = MappingProxyType({})

_MAX_VARIABLE_DEPTH = 32
_PLAIN = frozenset({str, int, bool, type(None)})
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
    work: str | None = None
    """The work item or call activity the token waits for."""
    group: str | None = None
    """A parallel co-signer's token: the id of the token it signs with."""


class Scope(NamedTuple):
    """A nested scope. The root scope is implicit.

    ``token`` is the token waiting for the scope in ``parent`` (empty for the
    instances of a multi-instance body, which the body counts itself). ``variables``
    are the scope's local variables; ``data`` is the engine's own bookkeeping of a
    multi-instance body (its collection and the next instance to start).
    """

    id: str
    node: str
    parent: str
    token: str
    kind: str = SUB_SCOPE
    variables: Mapping[str, Any] = _NO_VARIABLES
    data: Mapping[str, Any] | None = None


class Job(NamedTuple):
    """A timer the runtime must fire at ``due_at`` (``fire_timer``).

    ``token`` is the token it belongs to (empty for the start of an event
    sub-process, which belongs to ``scope``); ``node`` is the timer event. A cycle
    keeps its evaluated text and how often it fired.
    """

    id: str
    kind: str
    node: str
    token: str
    scope: str
    due_at: datetime
    cycle: str | None = None
    count: int = 0


class Subscription(NamedTuple):
    """A token or scope waiting for a message or signal ``name``; ``node`` is the
    catching event (or receive task)."""

    id: str
    kind: str
    name: str
    node: str
    token: str
    scope: str
    correlation_key: str | None = None


class Work(NamedTuple):
    """Work the instance waits for: an external worker's or HTTP connector's job
    (``external``, ``http``) or a called instance (``call``)."""

    id: str
    kind: str
    node: str
    token: str
    scope: str
    retries: int = 0
    incident: str | None = None
    """The failure message while the work has an open incident."""


class Signer(NamedTuple):
    """A signer added to a user task (``add_signer``).

    ``parallel``: ``token`` is the signer's own token and ``task`` its task;
    ``before``: ``token`` is the original token, ``task`` the signer's task and
    ``assignee`` whom the original task goes back to; ``after``: ``task`` stays
    ``None`` until the original task is completed.
    """

    id: str
    mode: str
    node: str
    token: str
    user: str
    task: str | None = None
    assignee: str | None = None


class InstanceState(NamedTuple):
    """Immutable state of one instance; commands return a new one. (A named tuple:
    cheap to build on every command.)"""

    process_id: str
    status: str
    variables: Mapping[str, Any]
    initiator: str | None
    tokens: tuple[Token, ...]
    scopes: tuple[Scope, ...] = ()
    jobs: tuple[Job, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    works: tuple[Work, ...] = ()
    signers: tuple[Signer, ...] = ()
    completed: tuple[str, ...] = ()
    """Wait-state nodes (user tasks, work, receive tasks, call activities) completed
    so far, each once, the most recent last: the candidates for returns."""
    result: str | None = None
    """``rejected`` when a rejected approval ended the instance."""

    @property
    def active_nodes(self) -> tuple[str, ...]:
        """BPMN ids of the elements where tokens wait, without repetitions."""
        return tuple(dict.fromkeys(token.node for token in self.tokens))

    def open_tasks(self) -> dict[str, str]:
        """Open user tasks: task id -> BPMN id of the user task."""
        return {token.task: token.node for token in self.tokens if token.task is not None}

    def open_work(self) -> dict[str, str]:
        """Work items and call activities the instance waits for: id -> BPMN id."""
        return {work.id: work.node for work in self.works}

    def scope_variables(self, scope_id: str) -> dict[str, Any]:
        """The variables visible in a scope: the instance's, overlaid by the local
        variables of every enclosing scope."""
        chain: list[Mapping[str, Any]] = []
        records = {scope.id: scope for scope in self.scopes}
        current = scope_id
        while current != ROOT_SCOPE and current in records:
            record = records[current]
            chain.append(record.variables)
            current = record.parent
        values = copy_dict(self.variables)
        for local in reversed(chain):
            values.update(local)
        return values

    def to_json(self) -> dict[str, Any]:
        """The compact JSON form (plain dicts, lists, strings, numbers, booleans)."""
        data: dict[str, Any] = {
            "v": STATE_VERSION,
            "process": self.process_id,
            "status": self.status,
        }
        if self.result is not None:
            data["result"] = self.result
        if self.initiator is not None:
            data["initiator"] = self.initiator
        data["variables"] = {key: _encode(value) for key, value in self.variables.items()}
        data["tokens"] = [_token_json(token) for token in self.tokens]
        if self.scopes:
            data["scopes"] = [_scope_json(scope) for scope in self.scopes]
        if self.jobs:
            data["jobs"] = [_job_json(job) for job in self.jobs]
        if self.subscriptions:
            data["subscriptions"] = [_without_none(sub._asdict()) for sub in self.subscriptions]
        if self.works:
            data["works"] = [_without_none(work._asdict()) for work in self.works]
        if self.signers:
            data["signers"] = [_without_none(signer._asdict()) for signer in self.signers]
        if self.completed:
            data["completed"] = list(self.completed)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstanceState:  # type: ignore[misc]
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
            scopes = tuple(_scope_from_json(item) for item in data.get("scopes", ()))
            jobs = tuple(_job_from_json(item) for item in data.get("jobs", ()))
            subscriptions = tuple(
                Subscription(_str(item["id"]), _str(item["kind"]), _str(item["name"]),
                             _str(item["node"]), _str(item["token"]), _str(item["scope"]),
                             _optional_str(item.get("correlation_key")))
                for item in data.get("subscriptions", ())
            )
            works = tuple(
                Work(_str(item["id"]), _str(item["kind"]), _str(item["node"]),
                     _str(item["token"]), _str(item["scope"]), _int(item.get("retries", 0)),
                     _optional_str(item.get("incident")))
                for item in data.get("works", ())
            )
            signers = tuple(
                Signer(_str(item["id"]), _str(item["mode"]), _str(item["node"]),
                       _str(item["token"]), _str(item["user"]),
                       _optional_str(item.get("task")), _optional_str(item.get("assignee")))
                for item in data.get("signers", ())
            )
            completed = tuple(_str(item) for item in data.get("completed", ()))
            result = _optional_str(data.get("result"))
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
                works=works,
                signers=signers,
                completed=completed,
                result=result,
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
    if type(variables) is not dict and not isinstance(variables, Mapping):
        raise InvalidCommand("variables must be a mapping of names to values")
    result: dict[str, Any] = {}
    for key, value in variables.items():
        if not isinstance(key, str) or not key:
            raise InvalidCommand(f"variable names must be non-empty strings, not {key!r}",
                                 field="variables")
        kind = type(value)
        if value is None or kind is str or kind is bool or kind is int:
            result[key] = value
        else:
            result[key] = _copy_value(value, key, 0)
    return result


def copy_dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict with the items of ``mapping``. Dicts and read-only views of dicts are
    copied by their own ``copy`` (``dict(view)`` reads a view item by item, several
    times slower)."""
    kind = type(mapping)
    if kind is MappingProxyType or kind is dict:
        return mapping.copy()  # type: ignore[attr-defined, no-any-return]
    return dict(mapping)


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
            raise InvalidCommand(f"variable {path!r}: numbers must be finite",
                                 field=f"variables.{path}")
        return value
    if kind is Decimal:
        if not value.is_finite():
            raise InvalidCommand(f"variable {path!r}: numbers must be finite",
                                 field=f"variables.{path}")
        return value
    if depth >= _MAX_VARIABLE_DEPTH:
        raise InvalidCommand(f"variable {path!r} is nested too deeply", field=f"variables.{path}")
    if kind is not list and isinstance(value, Mapping):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidCommand(f"variable {path!r}: map keys must be strings",
                                     field=f"variables.{path}")
            kind = type(item)
            if item is None or kind is str or kind is bool or kind is int:
                copied[key] = item
            else:
                copied[key] = _copy_value(item, f"{path}.{key}", depth + 1)
        return copied
    if kind is list or kind is tuple:
        for item in value:
            if type(item) not in _PLAIN:
                break
        else:
            return list(value)  # strings, whole numbers, booleans and nulls, as they are
    if kind is list or isinstance(value, (list, tuple)):
        items: list[Any] = []
        for index, item in enumerate(value):
            kind = type(item)
            if item is None or kind is str or kind is bool or kind is int:
                items.append(item)
            else:
                items.append(_copy_value(item, f"{path}[{index}]", depth + 1))
        return items
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
        f"variable {path!r} has the unsupported type {type(value).__name__}",
        field=f"variables.{path}")


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


def encode_value(value: Any) -> Any:
    """One variable value in its JSON form (see the module docstring)."""
    return _encode(value)


def decode_value(value: Any) -> Any:
    """One variable value read back from its JSON form."""
    return _decode(value)


def _token_json(token: Token) -> dict[str, str]:
    data = {"id": token.id, "node": token.node}
    if token.scope != ROOT_SCOPE:
        data["scope"] = token.scope
    if token.task is not None:
        data["task"] = token.task
    if token.via is not None:
        data["via"] = token.via
    if token.work is not None:
        data["work"] = token.work
    if token.group is not None:
        data["group"] = token.group
    return data


def _token_from_json(item: Mapping[str, Any]) -> Token:
    return Token(
        _str(item["id"]),
        _str(item["node"]),
        _str(item.get("scope", ROOT_SCOPE)),
        _optional_str(item.get("task")),
        _optional_str(item.get("via")),
        _optional_str(item.get("work")),
        _optional_str(item.get("group")),
    )


def _scope_json(scope: Scope) -> dict[str, Any]:
    data: dict[str, Any] = {"id": scope.id, "node": scope.node, "parent": scope.parent,
                            "token": scope.token}
    if scope.kind != SUB_SCOPE:
        data["kind"] = scope.kind
    if scope.variables:
        data["variables"] = {key: _encode(value) for key, value in scope.variables.items()}
    if scope.data is not None:
        data["data"] = _encode(dict(scope.data))
    return data


def _scope_from_json(item: Mapping[str, Any]) -> Scope:
    kind = _str(item.get("kind", SUB_SCOPE))
    if kind not in _SCOPE_KINDS:
        raise InvalidState(f"unknown scope kind {kind!r}")
    variables = item.get("variables") or {}
    if not isinstance(variables, Mapping):
        raise InvalidState("scope variables must be an object")
    data = item.get("data")
    if data is not None and not isinstance(data, Mapping):
        raise InvalidState("scope data must be an object")
    return Scope(
        _str(item["id"]), _str(item["node"]), _str(item["parent"]), _str(item["token"]),
        kind,
        MappingProxyType({_str(key): _decode(value) for key, value in variables.items()})
        if variables else _NO_VARIABLES,
        MappingProxyType(_decode(dict(data))) if data is not None else None,
    )


def _job_json(job: Job) -> dict[str, Any]:
    data: dict[str, Any] = {"id": job.id, "kind": job.kind, "node": job.node,
                            "token": job.token, "scope": job.scope,
                            "due_at": job.due_at.isoformat()}
    if job.cycle is not None:
        data["cycle"] = job.cycle
    if job.count:
        data["count"] = job.count
    return data


def _job_from_json(item: Mapping[str, Any]) -> Job:
    due_at = datetime.fromisoformat(_str(item["due_at"]))
    if due_at.tzinfo is None:
        raise InvalidState("a job's due_at must carry an offset")
    return Job(_str(item["id"]), _str(item["kind"]), _str(item["node"]), _str(item["token"]),
               _str(item["scope"]), due_at, _optional_str(item.get("cycle")),
               _int(item.get("count", 0)))


def _optional_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _int(value: Any) -> int:
    if type(value) is not int:
        raise InvalidState(f"expected a whole number in the stored state, found {value!r}")
    return value


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidState(f"expected a string in the stored state, found {value!r}")
    return value
