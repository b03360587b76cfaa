"""The audit trail: history rows chained by hash per instance.

Each row's hash covers the previous row's hash and the row's own content, so a
changed, removed or inserted row breaks the chain from that point on;
`verify_chain` recomputes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.db import WriteBatch
from services.runtime.instances.models import history


def entry_hash(prev_hash: str, row: dict[str, Any]) -> str:
    content = jsonutil.dumps(
        [
            prev_hash,
            str(row["instance_id"]),
            jsonutil.isoformat(row["at"]),
            row.get("actor"),
            row["action"],
            row.get("node_id"),
            row.get("node_name"),
            str(row["task_id"]) if row.get("task_id") else None,
            row.get("comment"),
            row.get("details"),
        ],
        sort_keys=True,  # jsonb does not keep key order
    )
    return hashlib.sha256(content.encode()).hexdigest()


class HistoryWriter:
    """Collects the entries of one command and writes them in one statement."""

    def __init__(self, instance_id: UUID | str, last_hash: str) -> None:
        self.instance_id = instance_id
        self.last_hash = last_hash
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        action: str,
        at: dt.datetime,
        *,
        actor: str | None = None,
        node_id: str | None = None,
        node_name: str | None = None,
        task_id: str | None = None,
        comment: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        row: dict[str, Any] = {
            "instance_id": self.instance_id,
            "at": at,
            "actor": actor,
            "action": action,
            "node_id": node_id,
            "node_name": node_name,
            "task_id": task_id,
            "comment": comment,
            "details": jsonutil.jsonable(details) if details else None,
        }
        row["prev_hash"] = self.last_hash
        row["hash"] = self.last_hash = entry_hash(self.last_hash, row)
        self.rows.append(row)

    async def flush(self, session: AsyncSession) -> None:
        """Write the collected entries now."""
        batch = WriteBatch(session)
        await self.write_to(batch)
        await batch.flush()

    async def write_to(self, batch: WriteBatch) -> None:
        """Queue the collected entries in `batch` (a command's writes go together)."""
        if self.rows:
            await batch.insert(history, self.rows)
            self.rows = []


async def verify_chain(session: AsyncSession, instance_id: UUID, expected_last: str) -> dict[str, Any]:
    rows = (
        (await session.execute(select(history).where(history.c.instance_id == instance_id).order_by(history.c.id)))
        .mappings()
        .all()
    )
    prev = ""
    for index, row in enumerate(rows):
        if row["prev_hash"] != prev or entry_hash(prev, dict(row)) != row["hash"]:
            return {"valid": False, "entries": len(rows), "first_invalid_index": index, "first_invalid_id": row["id"]}
        prev = row["hash"]
    if prev != expected_last:
        return {
            "valid": False,
            "entries": len(rows),
            "first_invalid_index": len(rows),
            "reason": "entries missing at the end",
        }
    return {"valid": True, "entries": len(rows)}
