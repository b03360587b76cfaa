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
from bpm_common.errors import (
    BadRequest,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
    field_error,
)
from bpm_common.http import api_router
from services.designer.definitions import service
from services.designer.definitions.lint import LintReport, lint, rule_catalogue
from services.designer.definitions.models import Definition
from services.designer.definitions.parsing import Limits
from services.designer.definitions.schemas import (
    DefinitionDetail,
    DefinitionOut,
    DefinitionPage,
    LintOut,
    PublishIn,
    PublishOut,
    RuleOut,
)
from services.designer.deps import EventsDep, SettingsDep
from services.designer.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    decode_cursor,
    encode_cursor,
)
from services.designer.settings import DesignerSettings

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


def limits_of(settings: DesignerSettings) -> Limits:
    return Limits(max_bytes=settings.max_bpmn_bytes, max_depth=settings.max_bpmn_depth)


async def read_xml_body(request: Request, max_bytes: int) -> bytes:
    """The raw request body, refused with 415 unless it is XML and with 413 past `max_bytes`.

    The declared Content-Length is checked first, then the bytes actually received,
    so a missing or lying Content-Length cannot get a bigger document through.
    """
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in XML_TYPES:
        raise UnsupportedMediaType(
            "send the BPMN document as application/xml",
            errors=[
                field_error("Content-Type", f"{media_type or 'missing'}; expected application/xml")
            ],
        )
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest(
                "invalid Content-Length", errors=[field_error("Content-Length", "not a number")]
            )
        if int(declared) > max_bytes:
            raise _too_large(max_bytes)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the document is larger than {max_bytes} bytes",
        errors=[field_error("body", f"at most {max_bytes} bytes")],
    )


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
    report = service.lint_definition(definition, limits_of(settings))
    return DefinitionDetail(**out.model_dump(), lint=_lint_out(report))


@router.get(
    "/{definition_id}/bpmn",
    summary="Export the BPMN document exactly as uploaded",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "The stored bytes"}},
)
async def export_bpmn(
    definition_id: uuid.UUID, session: SessionDep, _: CurrentPrincipal
) -> Response:
    definition = await service.get(session, definition_id)
    filename = f"{definition.key}.v{definition.version}.bpmn"
    return Response(
        content=definition.bpmn,
        media_type="application/xml",
        headers={
            "ETag": f'"{definition.bpmn_sha256}"',
            "Content-Disposition": f'attachment; filename="{_safe_filename(filename)}"',
        },
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
