"""Which definition version an instance starts on, and its compiled graph (cached)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.db import driver_connection
from bpm_common.errors import NotFound, Unprocessable
from bpm_process.engine import ProcessGraph, compile_bpmn
from bpm_process.xml import BpmnError
from services.runtime.definitions.models import definitions
from services.runtime.org.repository import PERSON_COLUMNS


@dataclass(frozen=True, slots=True)
class DefinitionRef:
    id: UUID
    key: str
    version: int
    status: str


def compile_definition(bpmn: bytes) -> tuple[ProcessGraph | None, str | None]:
    """Compile BPMN into the engine's graph; returns (graph, None) or (None, reason)."""
    try:
        return compile_bpmn(bpmn), None
    except BpmnError as exc:
        details = "; ".join(f"{e.get('element_id') or 'document'}: {e.get('message')}" for e in exc.errors) or str(exc)
        return None, details[:4000]


@dataclass(frozen=True, slots=True)
class DefinitionForms:
    """The forms of one definition version, and which start event names which form."""

    forms: dict[str, Any]
    start_forms: dict[str, str]
    signers: dict[str, str]


class GraphCache:
    """Compiled graphs (and forms) by definition id; definitions never change once published."""

    def __init__(self, capacity: int = 256) -> None:
        self._items: OrderedDict[UUID, ProcessGraph] = OrderedDict()
        self._forms: OrderedDict[UUID, DefinitionForms] = OrderedDict()
        self.capacity = capacity

    async def forms(self, session: AsyncSession, definition_id: UUID) -> DefinitionForms:
        found = self._forms.get(definition_id)
        if found is None:
            row = (
                await session.execute(
                    select(definitions.c.forms, definitions.c.start_forms, definitions.c.signers).where(
                        definitions.c.id == definition_id
                    )
                )
            ).first()
            if row is None:
                found = DefinitionForms({}, {}, {})
            else:
                found = DefinitionForms(dict(row.forms or {}), dict(row.start_forms or {}), dict(row.signers or {}))
            self._forms[definition_id] = found
            if len(self._forms) > self.capacity:
                self._forms.popitem(last=False)
        return found

    async def get(self, session: AsyncSession, definition_id: UUID) -> ProcessGraph:
        graph = self._items.get(definition_id)
        if graph is not None:
            self._items.move_to_end(definition_id)
            return graph
        row = (
            await session.execute(
                select(definitions.c.bpmn, definitions.c.key).where(definitions.c.id == definition_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"definition {definition_id} is not known to the runtime")
        graph, error = compile_definition(row.bpmn)
        if graph is None:
            raise Unprocessable(f"definition {row.key} cannot be executed: {error}")
        self._items[definition_id] = graph
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return graph


async def definition_to_start(session: AsyncSession, key: str, roles: frozenset[str]) -> DefinitionRef:
    """The latest live version of `key`, or its latest trial version for a user in its trial roles.

    "Latest" is the most recently published: republishing an older version rolls back to it.
    """
    return choose_version(key, await (await driver_connection(session)).fetch(_VERSIONS_TO_START, key), roles)


def choose_version(key: str, rows: Sequence[Mapping[str, Any]], roles: frozenset[str]) -> DefinitionRef:
    """`definition_to_start`'s choice among the live and trial versions of `key` (`rows`,
    the most recently published first)."""
    live = next((r for r in rows if r["status"] == "published"), None)
    chosen: Any = live
    for row in rows:
        if live is not None and row["published_at"] <= live["published_at"]:
            break
        if row["status"] == "trial" and roles.intersection(row["trial_roles"]):
            chosen = row
            break
    if chosen is None:
        raise NotFound(f"no published process definition with key {key!r}")
    if chosen["compile_error"]:
        raise Unprocessable(f"definition {key} v{chosen['version']} cannot be executed: {chosen['compile_error']}")
    return DefinitionRef(chosen["id"], chosen["key"], chosen["version"], chosen["status"])


# read by every start: plain SQL on the unit of work's connection (bpm_common.db.driver_connection)
_VERSIONS_TO_START = (
    "SELECT id, key, version, status, trial_roles, compile_error, published_at FROM definitions"
    " WHERE key = $1 AND status IN ('published', 'trial') ORDER BY published_at DESC"
)
#: the same, with the starting user's organisation record ($2; `PERSON_COLUMNS`) in the
#: same round trip: one row with NULL definition columns when `key` has no live version
VERSIONS_TO_START_BY = (
    "SELECT d.id, d.key, d.version, d.status, d.trial_roles, d.compile_error, d.published_at, "  # noqa: S608
    + PERSON_COLUMNS
    + " FROM (VALUES (1)) AS one (x) LEFT JOIN org_users u ON u.username = $2"
    " LEFT JOIN definitions d ON d.key = $1 AND d.status IN ('published', 'trial')"
    " ORDER BY d.published_at DESC"
)
