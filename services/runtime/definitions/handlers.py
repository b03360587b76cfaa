"""Keep the runtime's copy of published definitions from the designer's events."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.events.envelope import Event
from bpm_common.events.inbox import PoisonEvent
from bpm_common.logging import get_logger
from services.runtime.definitions.forms import start_form_keys
from services.runtime.definitions.models import definitions
from services.runtime.definitions.service import compile_definition
from services.runtime.definitions.signers import signer_rules
from services.runtime.messages import starts as start_events

log = get_logger(__name__)

MAX_BPMN_BYTES = 20 * 1024 * 1024


def _bpmn(data: dict) -> bytes:
    try:
        raw = base64.b64decode(data["bpmn_gzip_b64"], validate=True)
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            bpmn = f.read(MAX_BPMN_BYTES + 1)
    except (KeyError, ValueError, OSError, EOFError) as exc:
        raise PoisonEvent(f"definition event carries no readable BPMN: {exc}") from exc
    if len(bpmn) > MAX_BPMN_BYTES:
        raise PoisonEvent("definition BPMN too large")
    return bpmn


async def on_definition_published(session: AsyncSession, event: Event) -> None:
    d = event.data
    bpmn = _bpmn(d)
    graph, error = compile_definition(bpmn)
    if error:
        log.warning("published_definition_not_executable", key=d.get("key"), error=error)
    forms = d.get("forms") or {}
    if not isinstance(forms, dict):
        raise PoisonEvent("definition forms must be an object")
    values = {
        "id": d["id"],
        "key": d["key"],
        "version": int(d["version"]),
        "name": d.get("name"),
        "status": d.get("status", "published"),
        "trial_roles": list(d.get("trial_roles") or []),
        "bpmn": bpmn,
        "compile_error": error,
        "forms": forms,
        "start_forms": start_form_keys(bpmn, graph.id) if graph is not None else {},
        "signers": signer_rules(bpmn, graph.id) if graph is not None else {},
        "published_at": dt.datetime.fromisoformat(str(d["published_at"]).replace("Z", "+00:00")),
        "sequence": event.sequence,
    }
    stmt = insert(definitions).values(values)
    stored = await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[definitions.c.id],
            set_={k: stmt.excluded[k] for k in values if k != "id"},
            where=definitions.c.sequence < stmt.excluded.sequence,
        )
    )
    if stored.rowcount == 0:
        return  # an older or repeated event: its start events were handled when it came first
    await start_events.on_definition_published(session, d["id"])  # message, signal and timer starts


async def on_definition_deprecated(session: AsyncSession, event: Event) -> None:
    """The version no longer starts instances: its timer starts go (and the incidents of the
    failed ones close, `messages.starts.sync_timer_starts`)."""
    deprecated = await session.execute(
        update(definitions)
        .where(definitions.c.id == event.data["id"], definitions.c.sequence < event.sequence)
        .values(status="deprecated", sequence=event.sequence)
        .returning(definitions.c.key)
    )
    key = deprecated.scalar_one_or_none()
    if key is not None:
        await start_events.sync_timer_starts(session, key)
