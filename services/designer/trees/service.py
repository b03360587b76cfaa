"""Approval trees stored as definitions: the tree compiles to BPMN, which is what is
stored, versioned and published (the tree is read back from it when asked for)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Unprocessable, field_error
from bpm_common.events.outbox import EventWriter
from services.designer.definitions import service as definitions
from services.designer.definitions.models import Definition
from services.designer.definitions.parsing import Limits
from services.designer.trees.compiler import TreeInvalid, compile_tree
from services.designer.trees.decompiler import NotABuilderModel, decompile
from services.designer.trees.schemas import ApprovalTree


def compile_or_422(tree: ApprovalTree) -> tuple[bytes, ApprovalTree]:
    try:
        document, with_ids = compile_tree(tree)
    except TreeInvalid as exc:
        raise Unprocessable("the approval tree is not valid", errors=exc.errors) from None
    return document.to_bytes(), with_ids


def decompile_or_422(data: bytes, limits: Limits) -> ApprovalTree:
    try:
        return decompile(data, limits)
    except NotABuilderModel as exc:
        errors = [field_error("body", exc.message)]
        if exc.element_id:
            errors[0]["element_id"] = exc.element_id
        raise Unprocessable(exc.message, errors=errors) from None


async def store(
    session: AsyncSession,
    events: EventWriter,
    *,
    tree: ApprovalTree,
    forms: Mapping[str, Mapping[str, Any]] | None,
    change_note: str | None,
    publish: str | None,
    trial_roles: Sequence[str] | None,
    actor: str,
    limits: Limits,
) -> tuple[Definition, ApprovalTree]:
    """A new version of the tree's key (with `forms`, or the forms of the latest
    version); published live or on trial when `publish` says so."""
    data, with_ids = compile_or_422(tree)
    definition = await definitions.create_version(
        session,
        data=data,
        actor=actor,
        limits=limits,
        change_note=change_note or "approval tree",
        new_forms=forms,
    )
    if publish is not None:
        definition = await definitions.publish(
            session,
            events,
            definition_id=definition.id,
            mode=publish,
            trial_roles=trial_roles,
            actor=actor,
            limits=limits,
        )
    return definition, with_ids


async def tree_of(session: AsyncSession, definition_id: uuid.UUID, limits: Limits) -> ApprovalTree:
    definition = await definitions.get(session, definition_id)
    return decompile_or_422(definition.bpmn, limits)
