"""The signed history against someone who can write to the database but does not hold the
key: forged key ids, rewritten, moved, swapped or appended entries, blank keys, what the
verify answer and the keys' repr show, and that every history write is signed."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import select, text

from bpm_common.keys import derive
from services.runtime.instances.history import (
    HistoryKeys,
    entry_content,
)
from services.runtime.instances.models import history
from services.runtime.settings import RuntimeSettings
from tests.runtime.test_history_signing import _keys, _leave_with_a_decision, _verify

ROOT = Path(__file__).resolve().parents[2]


async def _rows(runtime, instance_id: str) -> list[dict]:
    async with runtime.db.transaction() as session:
        return [
            dict(r)
            for r in (
                await session.execute(
                    select(history).where(history.c.instance_id == instance_id).order_by(history.c.id)
                )
            ).mappings()
        ]


async def _sql(runtime, statement: str, **params) -> None:
    async with runtime.db.transaction() as session:
        await session.execute(text(statement), params)


def test_a_blank_history_key_is_refused():
    """The key derived from an empty text is anyone's: a chain signed with it would verify.
    Following "put the old value here" after a key that was set but empty must not do that."""
    with pytest.raises(ValidationError, match="history_retired_keys"):
        RuntimeSettings(history_key=SecretStr("the real key"), history_retired_keys=[SecretStr(" ")])
    for current, retired in (("the real key", [""]), ("", []), ("  ", [])):
        with pytest.raises(ValueError, match="may not be empty"):
            HistoryKeys.of(current, retired=retired)


def test_repr_of_history_keys_does_not_show_the_keys():
    """A log line with the context's extras, a traceback with locals or a debugger shows
    the keys' ids, never the keys."""
    keys = HistoryKeys.of("some secret", retired=["an older secret"])
    shown = repr(keys)
    for key in keys.keys.values():
        assert repr(key) not in shown and key.hex() not in shown, shown


@pytest.mark.parametrize("forged_key_id", [None, "", "0000000000000000", "unknown"])
async def test_a_row_naming_no_or_an_unknown_key_is_broken(runtime, forged_key_id):
    inst = await _leave_with_a_decision(runtime)
    rows = await _rows(runtime, inst["id"])
    await _sql(runtime, "UPDATE history SET key_id = :k WHERE id = :i", k=forged_key_id, i=rows[1]["id"])
    result = await _verify(runtime, inst["id"])
    assert result["valid"] is False and result["first_invalid_index"] == 1, result


async def test_a_row_moved_to_another_configured_key_is_broken(runtime):
    """Naming a retired key that is configured does not help without that key's signature."""
    inst = await _leave_with_a_decision(runtime)
    ctx = runtime.client.app.state.ctx
    real = ctx.extras["history_keys"]
    ctx.extras["history_keys"] = HistoryKeys.of("a newer key", retired=[ctx.settings.common.jwt_secret.get_secret_value()])
    try:
        rows = await _rows(runtime, inst["id"])
        await _sql(runtime, "UPDATE history SET key_id = :k WHERE id = :i",
                   k=_keys(runtime).current_id, i=rows[0]["id"])
        assert (await _verify(runtime, inst["id"]))["valid"] is False
    finally:
        ctx.extras["history_keys"] = real


@pytest.mark.parametrize("tamper", ["delete_middle", "swap", "history_hash", "append_copy", "move_to_other_instance",
                                    "details_key_order_and_null", "task_id_case", "at_precision"])
async def test_tampering_without_the_key_is_detected(runtime, tamper):
    inst = await _leave_with_a_decision(runtime)
    rows = await _rows(runtime, inst["id"])
    assert len(rows) >= 3
    if tamper == "delete_middle":
        await _sql(runtime, "DELETE FROM history WHERE id = :i", i=rows[1]["id"])
    elif tamper == "swap":
        a, b = rows[0], rows[1]
        await _sql(runtime, "UPDATE history SET action = :x, comment = :c WHERE id = :i", x=b["action"], c=b["comment"], i=a["id"])
        await _sql(runtime, "UPDATE history SET action = :x, comment = :c WHERE id = :i", x=a["action"], c=a["comment"], i=b["id"])
    elif tamper == "history_hash":
        await _sql(runtime, "UPDATE instances SET history_hash = :h WHERE id = :i", h=rows[-2]["hash"], i=inst["id"])
    elif tamper == "append_copy":
        last = rows[-1]
        await _sql(runtime,
                   "INSERT INTO history (instance_id, at, actor, action, node_id, node_name, task_id, comment, details,"
                   " prev_hash, hash, key_id) SELECT instance_id, at, actor, action, node_id, node_name, task_id,"
                   " comment, details, :prev, hash, key_id FROM history WHERE id = :i",
                   prev=last["hash"], i=last["id"])
    elif tamper == "move_to_other_instance":
        other = await _leave_with_a_decision(runtime)
        await _sql(runtime, "UPDATE history SET instance_id = :o WHERE instance_id = :i", o=inst["id"], i=other["id"])
        await _sql(runtime, "UPDATE history SET instance_id = :i WHERE id = ANY(:ids)", i=other["id"],
                   ids=[r["id"] for r in rows])
        await _sql(runtime, "UPDATE instances SET history_hash = :h WHERE id = :i", h=rows[-1]["hash"], i=other["id"])
        inst = other
    elif tamper == "details_key_order_and_null":
        # a null details becomes {} (or the other way round): not the same entry
        target = rows[0]
        new = "'{}'::jsonb" if not target["details"] else "NULL"
        await _sql(runtime, f"UPDATE history SET details = {new} WHERE id = :i", i=target["id"])  # noqa: S608 - one of two literals
    elif tamper == "task_id_case":
        target = next((r for r in rows if r["task_id"] is not None), None)
        assert target is not None, "a decided task leaves entries with its id"
        await _sql(runtime, "UPDATE history SET task_id = :t WHERE id = :i", t=str(uuid.uuid4()), i=target["id"])
    elif tamper == "at_precision":
        await _sql(runtime, "UPDATE history SET at = at + interval '1 microsecond' WHERE id = :i", i=rows[0]["id"])
    assert (await _verify(runtime, inst["id"]))["valid"] is False, tamper


async def test_details_key_order_does_not_matter_to_the_hash(runtime):
    """jsonb reorders keys; the hash is over sorted keys, so a verified chain stays verified."""
    row = {"instance_id": uuid.uuid4(), "at": dt.datetime(2026, 12, 1, tzinfo=dt.UTC), "action": "x"}
    assert entry_content("", {**row, "details": {"b": 1, "a": {"d": 2, "c": 3}}}) == entry_content(
        "", {**row, "details": {"a": {"c": 3, "d": 2}, "b": 1}}
    )
    # and a naive/aware or non-UTC time of the same instant are the same entry
    aware = dt.datetime(2026, 12, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert entry_content("", {**row, "at": aware}) == entry_content("", row)


async def test_the_verify_answer_names_key_ids_not_keys(runtime):
    inst = await _leave_with_a_decision(runtime)
    ctx = runtime.client.app.state.ctx
    real = ctx.extras["history_keys"]
    secret = ctx.settings.common.jwt_secret.get_secret_value()
    ctx.extras["history_keys"] = HistoryKeys.of("another key")
    try:
        answer = await runtime.client.get(
            f"/api/v1/process-instances/{inst['id']}/history/verify", headers=runtime.auth("admin", "admin")
        )
        body = answer.text
        assert answer.status_code == 200 and answer.json()["valid"] is False
        for key in (*real.keys.values(), *ctx.extras["history_keys"].keys.values()):
            assert key.hex() not in body
        assert secret not in body and "another key" not in body
        assert real.current_id in body  # the key's public name only
    finally:
        ctx.extras["history_keys"] = real
    assert secret not in repr(ctx.settings) and secret not in str(ctx.settings.model_dump())


def test_every_history_write_goes_through_the_keyed_writer():
    """No module in services/ inserts into `history` but `HistoryWriter` (the migrations aside)."""
    offenders = []
    pattern = re.compile(r"insert\(\s*history\b|history\.insert\(|INSERT\s+INTO\s+history\b|COPY\s+history\b",
                         re.IGNORECASE)
    for path in (ROOT / "services").rglob("*.py"):
        if "migrations" in path.parts or path == ROOT / "services/runtime/instances/history.py":
            continue
        if pattern.search(path.read_text()):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_key_id_is_not_the_key_nor_plain_sha_of_the_secret():
    keys = HistoryKeys.of("s3cret")
    assert keys.current_id != hashlib.sha256(b"s3cret").hexdigest()[:16]
    assert keys.current_id == hashlib.sha256(keys.current).hexdigest()[:16]
    assert keys.current != derive("s3cret", b"bpm-notifier/secrets/v1")
