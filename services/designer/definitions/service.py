"""Rules of process definitions: upload as a new version, lint, publish (live or trial), deprecate.

A definition's key is the id of its executable process. Uploads of one key are
serialised with an advisory lock, so concurrent uploads get consecutive
versions. Publication emits `bpm.designer.definition.published` with the stored
bytes; publishing an already published version again makes it the live one again
(a rollback): its `published_at` moves to now and the event is sent again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import BadRequest, Conflict, NotFound, Unprocessable, field_error
from bpm_common.events.outbox import EventWriter
from bpm_common.ids import uuid7
from services.designer import events as ev
from services.designer.bpmn.document import BpmnDocument
from services.designer.bpmn.reading import referenced_forms
from services.designer.definitions import edits
from services.designer.definitions import repository as repo
from services.designer.definitions.lint import Finding, LintReport, lint
from services.designer.definitions.models import (
    DEPRECATED,
    DRAFT,
    PUBLISHED,
    TRIAL,
    Definition,
)
from services.designer.definitions.parsing import (
    BpmnInvalid,
    Limits,
    XmlRefused,
    choose_process,
    parse_model,
)
from services.designer.forms import service as forms
from services.designer.org.service import role_errors

MAX_KEY_LENGTH = 255
MAX_NAME_LENGTH = 500


@dataclass(frozen=True, slots=True)
class Listed:
    definition: Definition
    live: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def upload(
    session: AsyncSession,
    *,
    data: bytes,
    actor: str,
    limits: Limits,
    change_note: str | None = None,
    idempotency_key: str | None = None,
) -> Definition:
    """Store `data` as the next version of its process key (a draft).

    The new version starts with the forms of the latest version of the key.
    """
    if idempotency_key is not None:
        earlier = await repo.find_by_idempotency_key(session, actor, idempotency_key)
        if earlier is not None:
            return _same_upload(earlier, data)
    return await create_version(
        session,
        data=data,
        actor=actor,
        limits=limits,
        change_note=change_note,
        idempotency_key=idempotency_key,
    )


async def create_version(
    session: AsyncSession,
    *,
    data: bytes,
    actor: str,
    limits: Limits,
    change_note: str | None,
    idempotency_key: str | None = None,
    forms_from: uuid.UUID | None = None,
    new_forms: Mapping[str, Mapping[str, Any]] | None = None,
) -> Definition:
    """The next version of the document's key, with `new_forms` when given, else a copy
    of the forms of `forms_from` (default: the latest version of the key)."""
    key, name, executable = _identify(data, limits)
    await repo.lock_key(session, key)
    previous = forms_from or await repo.latest_id(session, key)
    definition = Definition(
        id=uuid7(),
        key=key,
        version=await repo.next_version(session, key),
        name=name,
        status=DRAFT,
        trial_roles=[],
        bpmn=data,
        bpmn_sha256=hashlib.sha256(data).hexdigest(),
        bpmn_size=len(data),
        executable=executable,
        change_note=change_note,
        idempotency_key=idempotency_key,
        created_by=actor,
        created_at=_now(),
        sequence=0,
    )
    session.add(definition)
    await session.flush()
    if new_forms is not None:
        await forms.replace_forms(session, definition.id, new_forms, actor)
    elif previous is not None:
        await forms.copy_forms(session, previous, definition.id, actor)
    return definition


async def edit(
    session: AsyncSession,
    *,
    definition_id: uuid.UUID,
    body: edits.EditIn,
    actor: str,
    limits: Limits,
) -> Definition:
    """Apply edits to a version's model and store the result as the next version."""
    source = await get(session, definition_id)
    document = document_of(source, limits)
    edits.apply(document, body.operations)
    note = body.change_note or f"edited from version {source.version}"
    return await create_version(
        session,
        data=document.to_bytes(),
        actor=actor,
        limits=limits,
        change_note=note,
        forms_from=source.id,
    )


def document_of(definition: Definition, limits: Limits) -> BpmnDocument:
    """The parsed model of a stored version (stored documents always parse)."""
    return BpmnDocument.parse(definition.bpmn, limits)


def _same_upload(earlier: Definition, data: bytes) -> Definition:
    if earlier.bpmn_sha256 != hashlib.sha256(data).hexdigest():
        raise Conflict(
            "this Idempotency-Key was used for a different document",
            errors=[field_error("Idempotency-Key", "already used for another upload")],
        )
    return earlier


def _identify(data: bytes, limits: Limits) -> tuple[str, str | None, bool]:
    """Key, name and executability of a document; 400/422 when it cannot be stored."""
    try:
        parsed = parse_model(data, limits)
    except XmlRefused as exc:
        raise BadRequest(
            f"the document is not acceptable XML: {exc.message}", errors=exc.errors
        ) from None
    except BpmnInvalid as exc:
        raise Unprocessable(
            f"the document is not valid BPMN 2.0: {exc.message}", errors=exc.errors
        ) from None
    choice = choose_process(parsed.definitions)
    if choice.process is None:
        raise Unprocessable(
            "the document contains no process",
            errors=[{"element_id": parsed.definitions.id, "message": "no <process> element"}],
        )
    if choice.extra_executables:
        processes = (choice.process, *choice.extra_executables)
        raise Unprocessable(
            'more than one process is executable; mark only the one to run isExecutable="true"',
            errors=[{"element_id": p.id, "message": "executable process"} for p in processes],
        )
    process = choice.process
    if len(process.id) > MAX_KEY_LENGTH:
        raise Unprocessable(
            "the process id is too long to be a key",
            errors=[
                {
                    "element_id": process.id[:80],
                    "message": f"longer than {MAX_KEY_LENGTH} characters",
                }
            ],
        )
    name = process.name or parsed.definitions.name
    return process.id, name[:MAX_NAME_LENGTH] if name else None, choice.executable


async def get(session: AsyncSession, definition_id: uuid.UUID) -> Definition:
    definition = await repo.get(session, definition_id)
    if definition is None:
        raise NotFound(f"no definition {definition_id}")
    return definition


async def is_live(session: AsyncSession, definition: Definition) -> bool:
    return definition.id in await repo.live_ids(session, {definition.key})


async def list_definitions(
    session: AsyncSession,
    *,
    key: str | None,
    status: str | None,
    limit: int,
    after: tuple[dt.datetime, uuid.UUID] | None,
) -> list[Listed]:
    rows = await repo.page(session, key=key, status=status, limit=limit, after=after)
    live = await repo.live_ids(session, {r.key for r in rows})
    return [Listed(r, r.id in live) for r in rows]


async def lint_definition(
    session: AsyncSession, definition: Definition, limits: Limits
) -> LintReport:
    """Lint of a stored definition as for publication, its forms included."""
    report = lint(definition.bpmn, limits, publishing=True)
    try:
        referenced = referenced_forms(document_of(definition, limits).root)
    except (XmlRefused, BpmnInvalid):
        return report
    problems = await forms.publication_problems(session, definition.id, referenced)
    return report.extended([Finding(**p) for p in problems])


async def publish(
    session: AsyncSession,
    events: EventWriter,
    *,
    definition_id: uuid.UUID,
    mode: str,
    trial_roles: Sequence[str] | None,
    actor: str,
    limits: Limits,
) -> Definition:
    """Publish live (`mode="live"`) or on trial for `trial_roles`; 422 with the lint errors."""
    found = await get(session, definition_id)
    roles = _trial_roles(mode, trial_roles)
    errors = await role_errors(session, "trial_roles", roles)
    if errors:
        raise Unprocessable("unknown trial roles", errors=errors)
    await repo.lock_key(session, found.key)
    definition = await repo.get(session, definition_id, for_update=True)
    assert definition is not None
    _check_transition(definition, mode)
    report = await lint_definition(session, definition, limits)
    if not definition.executable or not report.valid:
        raise Unprocessable(
            "the definition cannot be published: lint found errors",
            errors=[f.to_dict() for f in report.errors],
        )
    definition.status = TRIAL if mode == "trial" else PUBLISHED
    definition.trial_roles = roles
    definition.published_at = _now()
    definition.published_by = actor
    definition.sequence += 1
    await session.flush()
    await events.add(
        session,
        ev.event(
            ev.DEFINITION_PUBLISHED,
            str(definition.id),
            {
                **_published_data(definition),
                "forms": await forms.published_forms(session, definition.id),
            },
            definition.sequence,
        ),
    )
    return definition


async def deprecate(
    session: AsyncSession, events: EventWriter, definition_id: uuid.UUID
) -> Definition:
    """No new instances start this version; running ones go on."""
    found = await get(session, definition_id)
    await repo.lock_key(session, found.key)
    definition = await repo.get(session, definition_id, for_update=True)
    assert definition is not None
    if definition.status == DEPRECATED:
        return definition
    if definition.status == DRAFT:
        raise Conflict("a draft was never published, so it cannot be deprecated")
    definition.status = DEPRECATED
    definition.sequence += 1
    await session.flush()
    data = {"id": definition.id, "key": definition.key, "version": definition.version}
    await events.add(
        session, ev.event(ev.DEFINITION_DEPRECATED, str(definition.id), data, definition.sequence)
    )
    return definition


def _trial_roles(mode: str, trial_roles: Sequence[str] | None) -> list[str]:
    roles = list(dict.fromkeys(trial_roles or ()))
    if mode == "trial" and not roles:
        raise Unprocessable(
            "a trial publication needs trial roles",
            errors=[field_error("trial_roles", "at least one role is required for a trial")],
        )
    if mode == "live" and roles:
        raise Unprocessable(
            "trial roles only apply to a trial publication",
            errors=[field_error("trial_roles", "not allowed when publishing live")],
        )
    return roles


def _check_transition(definition: Definition, mode: str) -> None:
    if mode == "trial" and definition.status in (PUBLISHED, DEPRECATED):
        raise Conflict(
            f"version {definition.version} was already published live; "
            "upload a new version to trial it",
            errors=[field_error("mode", f"not allowed for a {definition.status} definition")],
        )


def _published_data(definition: Definition) -> dict[str, Any]:
    return {
        "id": definition.id,
        "key": definition.key,
        "version": definition.version,
        "name": definition.name,
        "status": definition.status,
        "trial_roles": list(definition.trial_roles),
        "published_at": definition.published_at,
        "published_by": definition.published_by,
        "bpmn_gzip_b64": ev.gzip_b64(definition.bpmn),
    }
