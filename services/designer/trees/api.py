"""`/api/v1/approval-trees`: the approval-tree builder.

Compile a tree to BPMN (with lint), read a builder model back as a tree, store a
tree as the next version of its key and optionally publish it. Writes (and
compile/decompile, which have the same audience) need `process_designer` or `admin`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from bpm_common.auth import DESIGNER, CurrentPrincipal, Principal, require_roles
from bpm_common.db import SessionDep
from bpm_common.http import api_router
from services.designer.bodies import read_body
from services.designer.definitions.lint import lint
from services.designer.definitions.schemas import LintOut
from services.designer.deps import EventsDep, SettingsDep, limits_of
from services.designer.trees import service
from services.designer.trees.schemas import ApprovalTree

router = api_router(prefix="/api/v1/approval-trees", tags=["approval trees"])

Designer = Annotated[Principal, require_roles(DESIGNER)]
XML_TYPES = frozenset({"application/xml", "text/xml"})


class CompileOut(BaseModel):
    tree: ApprovalTree = Field(description="The tree with every id given.")
    bpmn: str = Field(description="The executable BPMN 2.0 XML, with its diagram.")
    lint: LintOut


class TreeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tree: ApprovalTree
    forms: dict[str, dict[str, Any]] | None = Field(
        default=None,
        description="Forms of the version by name (`{schema, ui_schema, rules}`); left out, "
        "the forms of the latest version of the key are kept.",
    )
    change_note: str | None = Field(default=None, max_length=2000)
    publish: Literal["live", "trial"] | None = Field(
        default=None, description="Publish the new version at once."
    )
    trial_roles: list[str] | None = Field(default=None, max_length=100)


class TreeDefinitionOut(BaseModel):
    id: uuid.UUID
    key: str
    version: int
    status: Literal["draft", "trial", "published", "deprecated"]
    name: str | None
    change_note: str | None
    tree: ApprovalTree


@router.post("/compile", response_model=CompileOut, summary="Compile a tree to BPMN and lint it")
async def compile_tree(tree: ApprovalTree, _: Designer, settings: SettingsDep) -> CompileOut:
    data, with_ids = service.compile_or_422(tree)
    report = lint(data, limits_of(settings), publishing=True)
    return CompileOut(
        tree=with_ids, bpmn=data.decode("utf-8"), lint=LintOut.model_validate(report.to_dict())
    )


@router.post(
    "/decompile",
    response_model=ApprovalTree,
    summary="Read a BPMN model made by the builder back as a tree",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/xml": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={422: {"description": "Not a model the builder made (or reshaped elsewhere)"}},
)
async def decompile_tree(request: Request, _: Designer, settings: SettingsDep) -> ApprovalTree:
    data = await read_body(request, XML_TYPES, settings.max_bpmn_bytes)
    return service.decompile_or_422(data, limits_of(settings))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TreeDefinitionOut,
    summary="Store a tree as the next version of its key, optionally publishing it",
    responses={422: {"description": "Invalid tree or forms, or lint errors when publishing"}},
)
async def store_tree(
    body: TreeIn,
    session: SessionDep,
    events: EventsDep,
    principal: Designer,
    settings: SettingsDep,
    response: Response,
) -> TreeDefinitionOut:
    definition, tree = await service.store(
        session,
        events,
        tree=body.tree,
        forms=body.forms,
        change_note=body.change_note,
        publish=body.publish,
        trial_roles=body.trial_roles,
        actor=principal.username,
        limits=limits_of(settings),
    )
    response.headers["Location"] = f"/api/v1/definitions/{definition.id}"
    return TreeDefinitionOut(
        id=definition.id,
        key=definition.key,
        version=definition.version,
        status=definition.status,  # type: ignore[arg-type]
        name=definition.name,
        change_note=definition.change_note,
        tree=tree,
    )


@router.get(
    "/{definition_id}",
    response_model=ApprovalTree,
    summary="The tree of a stored definition made by the builder",
)
async def get_tree(
    definition_id: uuid.UUID, session: SessionDep, _: CurrentPrincipal, settings: SettingsDep
) -> ApprovalTree:
    return await service.tree_of(session, definition_id, limits_of(settings))
