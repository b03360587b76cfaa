"""Forms: `/api/v1/definitions/{id}/forms/{name}` (per definition version; writes need
`process_designer` or `admin`, only on drafts), `/api/v1/forms/validate` and
`/api/v1/forms/attachments` (any signed-in user: people fill in forms).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import File, Path, Request, Response, UploadFile, status

from bpm_common.auth import DESIGNER, CurrentPrincipal, Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.errors import Unprocessable
from bpm_common.http import api_router
from services.designer.bodies import too_large
from services.designer.bpmn.document import BpmnDocument
from services.designer.bpmn.reading import referenced_forms
from services.designer.definitions import service as definitions
from services.designer.deps import SettingsDep, limits_of
from services.designer.forms import attachments, service
from services.designer.forms.models import Attachment, DefinitionForm
from services.designer.forms.schemas import (
    AttachmentOut,
    FormIn,
    FormOut,
    FormPage,
    ValidateIn,
    ValidateOut,
)

definition_forms = api_router(prefix="/api/v1/definitions/{definition_id}/forms", tags=["forms"])
router = api_router(prefix="/api/v1/forms", tags=["forms"])

Designer = Annotated[Principal, require_roles(DESIGNER)]
NamePath = Annotated[str, Path(max_length=70, description="`<name>` or `form:<name>`.")]
MULTIPART_OVERHEAD = 16 * 1024


@definition_forms.get("", response_model=FormPage, summary="The forms of a definition version")
async def list_forms(
    definition_id: uuid.UUID, session: SessionDep, _: CurrentPrincipal, settings: SettingsDep
) -> FormPage:
    definition = await definitions.get(session, definition_id)
    used = _usage(definitions.document_of(definition, limits_of(settings)))
    rows = await service.forms_of(session, definition_id)
    return FormPage(items=[_out(r, used) for r in rows])


@definition_forms.get("/{name}", response_model=FormOut, summary="One form of a definition version")
async def get_form(
    definition_id: uuid.UUID,
    name: NamePath,
    session: SessionDep,
    _: CurrentPrincipal,
    settings: SettingsDep,
) -> FormOut:
    definition = await definitions.get(session, definition_id)
    row = await service.get_form(session, definition_id, name)
    return _out(row, _usage(definitions.document_of(definition, limits_of(settings))))


@definition_forms.put(
    "/{name}",
    response_model=FormOut,
    summary="Create or replace a form of a draft",
    responses={
        201: {"model": FormOut, "description": "Created"},
        409: {"description": "The definition is not a draft"},
        422: {"description": "The form is not valid (one entry per problem)"},
    },
)
async def put_form(
    definition_id: uuid.UUID,
    name: NamePath,
    body: FormIn,
    session: SessionDep,
    principal: Designer,
    settings: SettingsDep,
    response: Response,
) -> FormOut:
    definition = await definitions.get(session, definition_id)
    row, created = await service.put_form(
        session, definition, service.form_name(name), body, principal.username
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return _out(row, _usage(definitions.document_of(definition, limits_of(settings))))


@definition_forms.delete(
    "/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a form from a draft"
)
async def delete_form(
    definition_id: uuid.UUID, name: NamePath, session: SessionDep, _: Designer
) -> Response:
    definition = await definitions.get(session, definition_id)
    await service.delete_form(session, definition, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/validate",
    response_model=ValidateOut,
    summary="Validate data against a form as the runtime will (422 with one entry per field)",
    responses={422: {"description": "The data is not valid: `errors` has one entry per field"}},
)
async def validate(
    body: ValidateIn, session: SessionDep, principal: CurrentPrincipal
) -> ValidateOut:
    context = {"initiator": principal.username, **body.context}
    errors = await service.validate(session, body.definition_id, body.form, body.data, context)
    if errors:
        raise Unprocessable("the form data is not valid", errors=errors)
    return ValidateOut(valid=True)


@router.post(
    "/attachments",
    status_code=status.HTTP_201_CREATED,
    response_model=AttachmentOut,
    summary="Upload a file for a form field of format attachment-id",
    responses={
        413: {"description": "Larger than BPM_DESIGNER_MAX_ATTACHMENT_BYTES"},
        415: {"description": "A kind of file that is not accepted (recognised from its content)"},
    },
)
async def upload_attachment(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The file (multipart/form-data field `file`).")],
) -> AttachmentOut:
    limit = settings.max_attachment_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise too_large("file", limit)
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise too_large("file", limit)
    row = await attachments.store(
        session,
        content=content,
        filename=file.filename,
        allowed=settings.attachment_types,
        actor=principal.username,
    )
    return _attachment(row)


@router.get(
    "/attachments/{attachment_id}",
    summary="Download an attachment",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
async def download_attachment(
    attachment_id: uuid.UUID, session: SessionDep, _: CurrentPrincipal
) -> Response:
    row = await attachments.get(session, attachment_id)
    return Response(
        content=row.content,
        media_type=row.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{row.filename}"',
            "ETag": f'"{row.sha256}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/attachments/{attachment_id}/info",
    response_model=AttachmentOut,
    summary="What is known about an attachment",
)
async def attachment_info(
    attachment_id: uuid.UUID, session: SessionDep, _: CurrentPrincipal
) -> AttachmentOut:
    return _attachment(await attachments.get(session, attachment_id))


def _usage(document: BpmnDocument) -> dict[str, list[str]]:
    return referenced_forms(document.root)


def _out(row: DefinitionForm, used: dict[str, list[str]]) -> FormOut:
    return FormOut(
        definition_id=row.definition_id,
        name=row.name,
        form_key=f"form:{row.name}",
        schema=row.schema,
        ui_schema=row.ui_schema,
        rules=row.rules,
        used_by=used.get(row.name, []),
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def _attachment(row: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=row.id,
        filename=row.filename,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
    )
