"""The history is signed with the runtime's key: a chain computed anew without it does
not verify, a changed key leaves older entries verifiable with the retired one, and the
migration signs the chains stored before, leaving broken ones broken."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.instances.history import HistoryKeys, entry_content, entry_hash, verify_chain
from services.runtime.instances.models import history, instances
from tests.runtime.conftest import migrated_database
from tests.runtime.test_operations_helpers import ADMIN, model, only_task, post, start

BEFORE_SIGNING = "b8d0f2a4c6e1"


async def _leave_with_a_decision(runtime) -> dict:
    await runtime.publish(model("operations-approval.bpmn"), "leave-request")
    inst = await start(runtime, "leave-request", variables={"days": 3})
    submit = await only_task(runtime, inst["id"], "submit")
    assert (await post(runtime, f"/tasks/{submit['id']}/approve", ("alice",), {"comment": "please"})).status_code == 200
    return inst


async def _verify(runtime, instance_id: str) -> dict:
    r = await runtime.client.get(f"/api/v1/process-instances/{instance_id}/history/verify", headers=runtime.auth(*ADMIN))
    assert r.status_code == 200, r.text
    return r.json()


def _keys(runtime) -> HistoryKeys:
    return runtime.client.app.state.ctx.extras["history_keys"]


async def _rechain(runtime, instance_id: str, sign) -> None:
    """What someone who can write to the database does after changing an entry: compute
    every hash after it anew, and the instance's last hash."""
    async with runtime.db.transaction() as session:
        rows = (
            (await session.execute(select(history).where(history.c.instance_id == instance_id).order_by(history.c.id)))
            .mappings()
            .all()
        )
        prev = ""
        for row in rows:
            digest = sign(prev, dict(row))
            await session.execute(update(history).where(history.c.id == row["id"]).values(prev_hash=prev, hash=digest))
            prev = digest
        await session.execute(update(instances).where(instances.c.id == instance_id).values(history_hash=prev))


async def test_a_changed_entry_with_its_chain_computed_anew_is_detected(runtime):
    inst = await _leave_with_a_decision(runtime)
    assert (await _verify(runtime, inst["id"]))["valid"] is True
    async with runtime.db.transaction() as session:
        await session.execute(
            update(history)
            .where(history.c.instance_id == inst["id"], history.c.action == "task_completed")
            .values(comment="withdrawn by the manager")
        )
    await _rechain(runtime, inst["id"], lambda prev, row: hashlib.sha256(entry_content(prev, row)).hexdigest())
    plain = await _verify(runtime, inst["id"])
    assert plain["valid"] is False and plain["first_invalid_index"] == 0, plain

    guessed = HistoryKeys.of("a guess at the secret")
    await _rechain(runtime, inst["id"], lambda prev, row: entry_hash(prev, row, guessed.current))
    assert (await _verify(runtime, inst["id"]))["valid"] is False

    # the same rewrite with the runtime's own key verifies: the key is what protects the chain
    await _rechain(runtime, inst["id"], lambda prev, row: entry_hash(prev, row, _keys(runtime).current))
    assert (await _verify(runtime, inst["id"]))["valid"] is True


async def test_entries_signed_before_a_key_change_verify_with_the_retired_key(runtime):
    inst = await _leave_with_a_decision(runtime)
    ctx = runtime.client.app.state.ctx
    old = ctx.settings.common.jwt_secret.get_secret_value()
    old_id = _keys(runtime).current_id
    ctx.extras["history_keys"] = HistoryKeys.of("the new history key", retired=[old])
    manager = await only_task(runtime, inst["id"], "manager")
    assert (await post(runtime, f"/tasks/{manager['id']}/approve", ("bob",))).status_code == 200
    async with runtime.db.transaction() as session:
        signers = (
            await session.execute(select(history.c.key_id).where(history.c.instance_id == inst["id"]).order_by(history.c.id))
        ).scalars().all()
    new_id = _keys(runtime).current_id
    assert new_id != old_id and set(signers) == {old_id, new_id}
    assert (await _verify(runtime, inst["id"])) == {
        "valid": True, "entries": len(signers), "first_invalid_index": None, "first_invalid_id": None, "reason": None,
    }

    ctx.extras["history_keys"] = HistoryKeys.of("the new history key")  # the old one forgotten
    forgotten = await _verify(runtime, inst["id"])
    assert forgotten["valid"] is False and forgotten["first_invalid_index"] == 0
    assert old_id in forgotten["reason"] and "BPM_RUNTIME_HISTORY_RETIRED_KEYS" in forgotten["reason"]


async def test_the_migration_signs_intact_chains_and_leaves_broken_ones_broken(pg_url, run_prefix, monkeypatch):
    monkeypatch.setenv("BPM_RUNTIME_HISTORY_KEY", "the key of this installation")
    keys = HistoryKeys.of("the key of this installation")
    intact, broken = uuid.uuid4(), uuid.uuid4()
    async with migrated_database(pg_url, f"{run_prefix}_history_signing") as db:
        engine = db.engine
        await db.to(BEFORE_SIGNING)
        async with engine.begin() as conn:
            at = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
            for instance_id in (intact, broken):
                prev, rows = "", []
                for n, action in enumerate(("instance_started", "task_created", "task_completed")):
                    row = {"instance_id": instance_id, "at": at + dt.timedelta(minutes=n), "actor": "alice",
                           "action": action, "node_id": "submit", "node_name": None, "task_id": None,
                           "comment": None, "details": {"n": n}}
                    digest = hashlib.sha256(entry_content(prev, row)).hexdigest()
                    rows.append({**row, "prev_hash": prev, "hash": digest})
                    prev = digest
                await conn.execute(instances.insert().values(
                    id=instance_id, definition_id=uuid.uuid4(), definition_key="k", definition_version=1,
                    initiator="alice", state="active", engine_state={}, started_at=at, history_hash=prev,
                ))
                await conn.execute(history.insert(), rows)
            await conn.execute(text(
                "UPDATE history SET comment = 'changed' WHERE instance_id = :i AND action = 'task_created'"
            ), {"i": broken})

        await db.to_head()
        async with engine.connect() as conn:
            async with AsyncSession(conn) as session:
                last = dict((await session.execute(select(instances.c.id, instances.c.history_hash))).all())
                signed = await verify_chain(session, intact, last[intact], keys)
                still_broken = await verify_chain(session, broken, last[broken], keys)
                key_ids = set((await session.execute(select(history.c.key_id))).scalars())
        assert signed == {"valid": True, "entries": 3}
        assert still_broken["valid"] is False and still_broken["first_invalid_index"] == 0
        assert key_ids == {keys.current_id, None}

        await db.to(BEFORE_SIGNING, down=True)
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT h.*, i.history_hash AS last FROM history h JOIN instances i ON i.id = h.instance_id"
                " WHERE h.instance_id = :i ORDER BY h.id"
            ), {"i": intact})).mappings().all()
        prev = ""
        for row in rows:
            assert row["prev_hash"] == prev and hashlib.sha256(entry_content(prev, dict(row))).hexdigest() == row["hash"]
            prev = row["hash"]
        assert prev == rows[-1]["last"]
