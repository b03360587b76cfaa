"""The audit trail: history rows chained by keyed hash per instance.

Each row's hash is an HMAC-SHA256, under the runtime's history key, of the previous
row's hash and the row's own content, so a changed, removed or inserted row breaks the
chain from that point on, and whoever can write to the database but does not hold the
key cannot compute a chain that verifies again; `verify_chain` recomputes it. Each row
names the key that signed it (`key_id`, a fingerprint), so a changed key leaves the
older rows verifiable with the retired one (`BPM_RUNTIME_HISTORY_RETIRED_KEYS`).

What the chain cannot show on its own is the loss of its newest rows together with
the instance's `history_hash` set back to match (a restore of an older state): the
events published for every entry are the record to compare against then.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common import jsonutil
from bpm_common.db import WriteBatch
from bpm_common.keys import derive, key_material
from services.runtime.instances.models import history
from services.runtime.settings import RuntimeSettings

HISTORY_PURPOSE = b"bpm-runtime/history/v1"


def key_id(key: bytes) -> str:
    """A key's public name: enough of its SHA-256 to tell keys apart, nothing to sign with."""
    return hashlib.sha256(key).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class HistoryKeys:
    """The key that signs new history entries and the retired ones that still verify old
    entries, by key id."""

    current_id: str
    keys: dict[str, bytes] = field(repr=False)  # never in a log line or a traceback

    @classmethod
    def of(cls, current: str, retired: Iterable[str] = ()) -> HistoryKeys:
        """From the secrets' texts (each derived with HKDF for this purpose). A blank text
        is refused: the key derived from it is anyone's, and would verify any chain."""
        retired = list(retired)
        if any(not text.strip() for text in (current, *retired)):
            raise ValueError("a history key may not be empty")
        signing = derive(current, HISTORY_PURPOSE)
        keys = {key_id(key): key for key in (derive(text, HISTORY_PURPOSE) for text in retired)}
        keys[key_id(signing)] = signing
        return cls(key_id(signing), keys)

    @classmethod
    def from_settings(cls, settings: RuntimeSettings) -> HistoryKeys:
        material = key_material(settings.history_key, settings.common)
        if material is None:
            raise RuntimeError(
                "the runtime signs its history: set BPM_RUNTIME_HISTORY_KEY (or BPM_JWT_SECRET)"
            )
        return cls.of(material, (key.get_secret_value() for key in settings.history_retired_keys))

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]


def entry_content(prev_hash: str, row: dict[str, Any]) -> bytes:
    """What an entry's hash covers: the previous hash and the entry's own fields."""
    return jsonutil.dumps(
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
    ).encode()


def entry_hash(prev_hash: str, row: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, entry_content(prev_hash, row), hashlib.sha256).hexdigest()


class HistoryWriter:
    """Collects the entries of one command and writes them in one statement."""

    def __init__(self, instance_id: UUID | str, last_hash: str, keys: HistoryKeys) -> None:
        self.instance_id = instance_id
        self.last_hash = last_hash
        self.key_id = keys.current_id
        self.key = keys.current
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
        row["key_id"] = self.key_id
        row["hash"] = self.last_hash = entry_hash(self.last_hash, row, self.key)
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


async def verify_chain(
    session: AsyncSession, instance_id: UUID, expected_last: str, keys: HistoryKeys
) -> dict[str, Any]:
    rows = (
        (await session.execute(select(history).where(history.c.instance_id == instance_id).order_by(history.c.id)))
        .mappings()
        .all()
    )
    prev = ""
    for index, row in enumerate(rows):
        key = keys.keys.get(row["key_id"] or "")
        if row["prev_hash"] != prev or key is None or entry_hash(prev, dict(row), key) != row["hash"]:
            broken: dict[str, Any] = {
                "valid": False,
                "entries": len(rows),
                "first_invalid_index": index,
                "first_invalid_id": row["id"],
            }
            if key is None and row["prev_hash"] == prev:
                broken["reason"] = (
                    f"signed with key {row['key_id']!r}, which is not configured"
                    " (BPM_RUNTIME_HISTORY_RETIRED_KEYS)"
                    if row["key_id"]
                    else "signed with no key"
                )
            return broken
        prev = row["hash"]
    if prev != expected_last:
        return {
            "valid": False,
            "entries": len(rows),
            "first_invalid_index": len(rows),
            "reason": "entries missing at the end",
        }
    return {"valid": True, "entries": len(rows)}
