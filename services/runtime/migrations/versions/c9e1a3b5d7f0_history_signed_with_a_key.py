"""History entries are signed with the runtime's history key (HMAC-SHA256) and name it.

Until now each entry's hash was a plain SHA-256 of the previous hash and the entry:
whoever could write to the database could change an entry and compute the chain after
it anew. This signs every chain that is intact with the configured key
(`BPM_RUNTIME_HISTORY_KEY`, else derived from `BPM_JWT_SECRET`). A chain that is
already broken is left as it was, so it stays reported as broken.

Revision ID: c9e1a3b5d7f0
Revises: b8d0f2a4c6e1
"""
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from services.runtime.instances.history import HistoryKeys, entry_content, entry_hash
from services.runtime.settings import RuntimeSettings

revision: str = "c9e1a3b5d7f0"
down_revision: str | Sequence[str] | None = "b8d0f2a4c6e1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: instances re-signed per round trip
_BATCH = 500

Hasher = Callable[[str, dict[str, Any]], tuple[str, str | None]]


def _plain(prev: str, row: dict[str, Any]) -> str:
    return hashlib.sha256(entry_content(prev, row)).hexdigest()


def _keys() -> HistoryKeys:
    try:
        return HistoryKeys.from_settings(RuntimeSettings())
    except RuntimeError as exc:
        raise RuntimeError(f"the stored history must be signed again: {exc}") from exc


def _intact(rows: list[dict[str, Any]], check: Callable[[str, dict[str, Any]], bool], last: str) -> bool:
    prev = ""
    for row in rows:
        if row["prev_hash"] != prev or not check(prev, row):
            return False
        prev = row["hash"]
    return prev == last


def _rechain(bind: Connection, check: Callable[[str, dict[str, Any]], bool], sign: Hasher) -> None:
    """Every intact chain (by `check`) computed anew with `sign`, with the instance's last hash."""
    after = None
    while True:
        ids = bind.execute(
            sa.text(
                "SELECT DISTINCT instance_id FROM history WHERE (CAST(:after AS uuid) IS NULL OR instance_id > :after)"
                " ORDER BY instance_id LIMIT :n"
            ),
            {"after": after, "n": _BATCH},
        ).scalars().all()
        if not ids:
            return
        after = ids[-1]
        rows = bind.execute(
            sa.text(
                "SELECT h.*, i.history_hash AS last FROM history h JOIN instances i ON i.id = h.instance_id"
                " WHERE h.instance_id = ANY(:ids) ORDER BY h.instance_id, h.id"
            ),
            {"ids": list(ids)},
        ).mappings().all()
        chains: dict[Any, list[dict[str, Any]]] = {}
        for row in rows:
            chains.setdefault(row["instance_id"], []).append(dict(row))
        entries: list[dict[str, Any]] = []
        heads: list[dict[str, Any]] = []
        for instance_id, chain in chains.items():
            if not _intact(chain, check, chain[0]["last"]):
                continue
            prev = ""
            for row in chain:
                digest, key_id = sign(prev, row)
                entries.append({"id": row["id"], "prev": prev, "hash": digest, "key_id": key_id})
                prev = digest
            heads.append({"id": instance_id, "last": prev})
        if entries:
            bind.execute(
                sa.text("UPDATE history SET prev_hash = :prev, hash = :hash, key_id = :key_id WHERE id = :id"),
                entries,
            )
            bind.execute(sa.text("UPDATE instances SET history_hash = :last WHERE id = :id"), heads)


def upgrade() -> None:
    op.add_column("history", sa.Column("key_id", sa.String(length=16), nullable=True))
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT NOT EXISTS (SELECT 1 FROM history)")).scalar():
        return
    keys = _keys()
    _rechain(
        bind,
        lambda prev, row: _plain(prev, row) == row["hash"],
        lambda prev, row: (entry_hash(prev, row, keys.current), keys.current_id),
    )


def downgrade() -> None:
    """Back to plain SHA-256 chains (those that verify with the configured keys)."""
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT EXISTS (SELECT 1 FROM history)")).scalar():
        keys = _keys()

        def signed(prev: str, row: dict[str, Any]) -> bool:
            key = keys.keys.get(row["key_id"] or "")
            return key is not None and entry_hash(prev, row, key) == row["hash"]

        _rechain(bind, signed, lambda prev, row: (_plain(prev, row), None))
    op.drop_column("history", "key_id")
