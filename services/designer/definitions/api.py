"""`/api/v1/definitions`: upload, list, export, lint, publish and deprecate process definitions.

Writes (and lint) need `process_designer` or `admin`; reads any signed-in user.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import Header, Query, Request, Response, status

from bpm_common.auth import DESIGNER, CurrentPrincipal, Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.errors import Unprocessable, field_error
from bpm_common.http import api_router
from services.designer.bodies import read_body
from services.designer.definitions import diff as version_diff
from services.designer.definitions import service
from services.designer.definitions.edits import EditIn
from services.designer.definitions.lint import LintReport, lint, rule_catalogue
from services.designer.definitions.models import Definition
from services.designer.definitions.schemas import (
    DefinitionDetail,
    DefinitionOut,
    DefinitionPage,
    DiffOut,
    LintOut,
    PublishIn,
    PublishOut,
    RuleOut,
)
from services.designer.deps import EventsDep, SettingsDep, limits_of
from services.designer.forms import service as forms
from services.designer.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    decode_cursor,
    encode_cursor,
)

router = api_router(prefix="/api/v1/definitions", tags=["definitions"])

Designer = Annotated[Principal, require_roles(DESIGNER)]
XML_TYPES = frozenset({"application/xml", "text/xml"})
XML_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            t: {"schema": {"type": "string", "format": "binary"}} for t in sorted(XML_TYPES)
        },
    }
}


async def read_xml_body(request: Request, max_bytes: int) -> bytes:
    """The raw BPMN document: 415 unless XML, 413 past `max_bytes`."""
    return await read_body(request, XML_TYPES, max_bytes)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DefinitionOut,
    summary="Upload a BPMN 2.0 document as the next version of its process",
    openapi_extra=XML_BODY,
    responses={
        400: {"description": "Not XML, or unsafe XML (DOCTYPE, too deep)"},
        413: {"description": "Larger than BPM_DESIGNER_MAX_BPMN_BYTES"},
        415: {"description": "Not sent as application/xml"},
        422: {"description": "XML, but not a valid BPMN 2.0 model"},
    },
)
async def upload(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: Designer,
    settings: SettingsDep,
    change_note: Annotated[str | None, Query(max_length=2000)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> DefinitionOut:
    data = await read_xml_body(request, settings.max_bpmn_bytes)
    definition = await service.upload(
        session,
        data=data,
        actor=principal.username,
        limits=limits_of(settings),
        change_note=change_note,
        idempotency_key=idempotency_key,
    )
    response.headers["Location"] = f"/api/v1/definitions/{definition.id}"
    return _out(definition, await service.is_live(session, definition))


@router.get("", response_model=DefinitionPage, summary="List definitions, newest first")
async def list_definitions(
    session: SessionDep,
    _: CurrentPrincipal,
    key: Annotated[str | None, Query(max_length=255)] = None,
    status_: Annotated[
        Literal["draft", "trial", "published", "deprecated"] | None, Query(alias="status")
    ] = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> DefinitionPage:
    after = _after(decode_cursor(cursor, "created_at", "id"))
    listed = await service.list_definitions(
        session, key=key, status=status_, limit=limit, after=after
    )
    next_cursor = None
    if len(listed) == limit:
        last = listed[-1].definition
        next_cursor = encode_cursor({"created_at": last.created_at.isoformat(), "id": str(last.id)})
    return DefinitionPage(
        items=[_out(i.definition, i.live) for i in listed], next_cursor=next_cursor
    )


@router.post(
    "/lint",
    response_model=LintOut,
    summary="Lint a BPMN document without storing it",
    openapi_extra=XML_BODY,
)
async def lint_document(request: Request, _: Designer, settings: SettingsDep) -> LintOut:
    data = await read_xml_body(request, settings.max_bpmn_bytes)
    return _lint_out(lint(data, limits_of(settings)))


@router.get("/lint/rules", response_model=list[RuleOut], summary="The lint rules")
async def lint_rules(_: CurrentPrincipal) -> list[RuleOut]:
    return [RuleOut(**r) for r in rule_catalogue()]


@router.get(
    "/{definition_id}", response_model=DefinitionDetail, summary="A definition with its lint report"
)
async def get_definition(
    definition_id: uuid.UUID, session: SessionDep, _: CurrentPrincipal, settings: SettingsDep
) -> DefinitionDetail:
    definition = await service.get(session, definition_id)
    out = _out(definition, await service.is_live(session, definition))
    report = await service.lint_definition(session, definition, limits_of(settings))
    return DefinitionDetail(**out.model_dump(), lint=_lint_out(report))


@router.get(
    "/{definition_id}/bpmn",
    summary="Export the BPMN document (as uploaded, or as the designer last edited it)",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "The stored bytes"}},
)
async def export_bpmn(
    definition_id: uuid.UUID, session: SessionDep, _: CurrentPrincipal, settings: SettingsDep
) -> Response:
    definition = await service.get(session, definition_id)
    filename = f"{definition.key}.v{definition.version}.bpmn"
    return Response(
        content=service.document_of(definition, limits_of(settings)).to_bytes(),
        media_type="application/xml",
        headers={
            "ETag": f'"{definition.bpmn_sha256}"',
            "Content-Disposition": f'attachment; filename="{_safe_filename(filename)}"',
        },
    )


@router.post(
    "/{definition_id}/edits",
    status_code=status.HTTP_201_CREATED,
    response_model=DefinitionOut,
    summary="Edit the model (names, documentation, RACI, forms, assignment, time limits) "
    "into the next version",
    description=(
        "The operations are applied in order to the parsed model of this version; the "
        "result is stored as the next version of the key (a draft) with the forms of this "
        "version. Everything the designer does not edit - other tools' extensions, "
        "diagrams, comments - is kept."
    ),
    responses={422: {"description": "An operation names an element the model does not have"}},
)
async def edit(
    definition_id: uuid.UUID,
    body: EditIn,
    session: SessionDep,
    principal: Designer,
    settings: SettingsDep,
    response: Response,
) -> DefinitionOut:
    definition = await service.edit(
        session,
        definition_id=definition_id,
        body=body,
        actor=principal.username,
        limits=limits_of(settings),
    )
    response.headers["Location"] = f"/api/v1/definitions/{definition.id}"
    return _out(definition, False)


@router.get(
    "/{definition_id}/diff",
    response_model=DiffOut,
    summary="Structural diff against another version",
    description=(
        "What changed from `against` to this version: nodes, flows, conditions, "
        "assignments, time limits and forms, each with the ids added, removed and changed."
    ),
)
async def diff(
    definition_id: uuid.UUID,
    against: uuid.UUID,
    session: SessionDep,
    _: CurrentPrincipal,
    settings: SettingsDep,
) -> DiffOut:
    after = await service.get(session, definition_id)
    before = await service.get(session, against)
    limits = limits_of(settings)
    snapshots = []
    for definition in (before, after):
        stored = {f.name: forms.as_dict(f) for f in await forms.forms_of(session, definition.id)}
        snapshots.append(version_diff.snapshot(definition.bpmn, limits, stored))
    changes = version_diff.compare(*snapshots)
    return DiffOut(
        base={"id": before.id, "key": before.key, "version": before.version},
        target={"id": after.id, "key": after.key, "version": after.version},
        identical=version_diff.is_empty(changes),
        **changes,
    )


@router.post(
    "/{definition_id}/publish",
    response_model=PublishOut,
    summary="Publish live, or on trial for some roles",
    responses={
        422: {"description": "Lint errors (in `errors`), not executable, or unknown trial roles"}
    },
)
async def publish(
    definition_id: uuid.UUID,
    session: SessionDep,
    events: EventsDep,
    principal: Designer,
    settings: SettingsDep,
    body: PublishIn | None = None,
) -> PublishOut:
    body = body or PublishIn()
    definition = await service.publish(
        session,
        events,
        definition_id=definition_id,
        mode=body.mode,
        trial_roles=body.trial_roles,
        actor=principal.username,
        limits=limits_of(settings),
    )
    return _publish_out(definition)


@router.post(
    "/{definition_id}/deprecate",
    response_model=PublishOut,
    summary="Stop new instances of this version (running ones go on)",
)
async def deprecate(
    definition_id: uuid.UUID, session: SessionDep, events: EventsDep, _: Designer
) -> PublishOut:
    return _publish_out(await service.deprecate(session, events, definition_id))


def _after(position: dict[str, str] | None) -> tuple[dt.datetime, uuid.UUID] | None:
    if position is None:
        return None
    try:
        return dt.datetime.fromisoformat(position["created_at"]), uuid.UUID(position["id"])
    except ValueError as exc:
        raise Unprocessable(
            "the cursor is not valid", errors=[field_error("cursor", "not a cursor")]
        ) from exc


def _out(definition: Definition, live: bool) -> DefinitionOut:
    return DefinitionOut(
        id=definition.id,
        key=definition.key,
        version=definition.version,
        status=definition.status,  # type: ignore[arg-type]
        name=definition.name,
        executable=definition.executable,
        live=live,
        trial_roles=list(definition.trial_roles),
        change_note=definition.change_note,
        sha256=definition.bpmn_sha256,
        size=definition.bpmn_size,
        created_by=definition.created_by,
        created_at=definition.created_at,
        published_by=definition.published_by,
        published_at=definition.published_at,
    )


def _publish_out(definition: Definition) -> PublishOut:
    return PublishOut(
        id=definition.id,
        key=definition.key,
        version=definition.version,
        status=definition.status,  # type: ignore[arg-type]
        name=definition.name,
        trial_roles=list(definition.trial_roles),
        published_at=definition.published_at,
        published_by=definition.published_by,
    )


def _lint_out(report: LintReport) -> LintOut:
    return LintOut.model_validate(report.to_dict())


def _safe_filename(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:200]
