"""`/api/v1/templates`: process templates ready to install in one call.

Listing is open to signed-in users; installing needs `process_designer` or `admin`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from bpm_common.auth import DESIGNER, CurrentPrincipal, Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.http import api_router
from services.designer.deps import EventsDep, SettingsDep, limits_of
from services.designer.templates import service
from services.designer.templates.catalogue import Template, all_templates, load

router = api_router(prefix="/api/v1/templates", tags=["templates"])

Designer = Annotated[Principal, require_roles(DESIGNER)]
NamePath = Annotated[str, Path(max_length=64)]


class TemplateOut(BaseModel):
    name: str
    key: str = Field(description="The process key a definition installed from it gets.")
    title: dict[str, str] = Field(description="Title per locale.")
    description: str
    forms: list[str]
    dictionaries: list[str]


class TemplatePage(BaseModel):
    items: list[TemplateOut]
    next_cursor: str | None = None


class InstallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    publish: bool = Field(default=False, description="Publish the installed version live.")


class InstallOut(BaseModel):
    id: uuid.UUID
    key: str
    version: int
    status: Literal["draft", "published"]
    name: str | None
    forms: list[str]
    dictionaries_created: list[str]


@router.get("", response_model=TemplatePage, summary="The templates")
async def list_templates(_: CurrentPrincipal) -> TemplatePage:
    return TemplatePage(items=[_out(t) for t in all_templates()])


@router.get("/{name}", response_model=TemplateOut, summary="One template")
async def get_template(name: NamePath, _: CurrentPrincipal) -> TemplateOut:
    return _out(load(name))


@router.get(
    "/{name}/bpmn",
    response_class=Response,
    summary="The template's BPMN",
    responses={200: {"content": {"application/xml": {}}, "description": "BPMN 2.0 XML"}},
)
async def template_bpmn(name: NamePath, _: CurrentPrincipal) -> Response:
    return Response(content=load(name).bpmn, media_type="application/xml")


@router.post(
    "/{name}/install",
    status_code=status.HTTP_201_CREATED,
    response_model=InstallOut,
    summary="Install a template as the next version of its key (a draft, or published live)",
)
async def install(
    name: NamePath,
    session: SessionDep,
    events: EventsDep,
    principal: Designer,
    settings: SettingsDep,
    response: Response,
    body: InstallIn | None = None,
) -> InstallOut:
    body = body or InstallIn()
    definition, created = await service.install(
        session,
        events,
        name,
        publish=body.publish,
        actor=principal.username,
        limits=limits_of(settings),
    )
    response.headers["Location"] = f"/api/v1/definitions/{definition.id}"
    return InstallOut(
        id=definition.id,
        key=definition.key,
        version=definition.version,
        status=definition.status,  # type: ignore[arg-type]
        name=definition.name,
        forms=sorted(load(name).forms),
        dictionaries_created=created,
    )


def _out(template: Template) -> TemplateOut:
    return TemplateOut(
        name=template.name,
        key=template.key,
        title=template.title,
        description=template.description,
        forms=sorted(template.forms),
        dictionaries=sorted(template.dictionaries),
    )
