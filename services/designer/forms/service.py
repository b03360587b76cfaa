"""Rules of forms: kept per definition version, changed only on drafts, checked with the
shared `bpm_process.forms` (the runtime validates with the same code), published with
their dictionaries resolved.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.errors import Conflict, NotFound, Unprocessable, field_error
from bpm_process.forms import check_form, dictionary_keys, resolve_dictionaries, validate_form
from services.designer.bpmn.document import FORM_PREFIX
from services.designer.definitions.models import DRAFT, Definition
from services.designer.dictionaries import service as dictionaries
from services.designer.forms.models import DefinitionForm
from services.designer.forms.schemas import FormIn
from services.designer.org.service import check_name


def form_name(value: str) -> str:
    """`expense` from `expense` or `form:expense`."""
    return value[len(FORM_PREFIX) :] if value.startswith(FORM_PREFIX) else value


def as_dict(form: DefinitionForm) -> dict[str, Any]:
    return {"schema": form.schema, "ui_schema": form.ui_schema, "rules": form.rules}


async def forms_of(session: AsyncSession, definition_id: uuid.UUID) -> list[DefinitionForm]:
    rows = await session.scalars(
        select(DefinitionForm)
        .where(DefinitionForm.definition_id == definition_id)
        .order_by(DefinitionForm.name)
    )
    return list(rows.all())


async def get_form(session: AsyncSession, definition_id: uuid.UUID, name: str) -> DefinitionForm:
    row = await session.get(DefinitionForm, (definition_id, form_name(name)))
    if row is None:
        raise NotFound(f"the definition has no form {name!r}")
    return row


async def form_problems(session: AsyncSession, form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`check_form` with the dictionaries that exist."""
    keys = dictionary_keys(form.get("schema") or {})
    known = await dictionaries.existing(session, keys)
    return check_form(form, dictionaries={k: () for k in known})


async def put_form(
    session: AsyncSession, definition: Definition, name: str, body: FormIn, actor: str
) -> tuple[DefinitionForm, bool]:
    check_name("name", name)
    _check_draft(definition)
    form = {"schema": body.schema_, "ui_schema": body.ui_schema, "rules": body.rules}
    problems = await form_problems(session, form)
    if problems:
        raise Unprocessable("the form is not valid", errors=problems)
    row = await session.get(DefinitionForm, (definition.id, name), with_for_update=True)
    created = row is None
    if row is None:
        row = DefinitionForm(definition_id=definition.id, name=name, updated_by=actor)
        session.add(row)
    row.schema, row.ui_schema, row.rules = body.schema_, body.ui_schema, body.rules
    row.updated_by, row.updated_at = actor, dt.datetime.now(dt.UTC)
    await session.flush()
    return row, created


async def delete_form(session: AsyncSession, definition: Definition, name: str) -> None:
    _check_draft(definition)
    row = await get_form(session, definition.id, name)
    await session.delete(row)
    await session.flush()


async def replace_forms(
    session: AsyncSession,
    definition_id: uuid.UUID,
    forms: Mapping[str, Mapping[str, Any]],
    actor: str,
) -> None:
    """Set the forms of a new version (templates, approval trees): checked, then stored."""
    errors: list[dict[str, Any]] = []
    for name, form in forms.items():
        try:
            check_name(f"forms.{name}", name)
        except Unprocessable as exc:
            errors.extend(exc.errors or [])
            continue
        for problem in await form_problems(session, form):
            errors.append({**problem, "field": f"forms.{name}.{problem['field']}".rstrip(".")})
    if errors:
        raise Unprocessable("a form is not valid", errors=errors)
    await session.execute(
        delete(DefinitionForm).where(DefinitionForm.definition_id == definition_id)
    )
    now = dt.datetime.now(dt.UTC)
    for name, form in forms.items():
        session.add(
            DefinitionForm(
                definition_id=definition_id,
                name=name,
                schema=dict(form.get("schema") or {}),
                ui_schema=dict(form.get("ui_schema") or {}),
                rules=list(form.get("rules") or []),
                updated_by=actor,
                updated_at=now,
            )
        )
    await session.flush()


async def copy_forms(
    session: AsyncSession, source: uuid.UUID, target: uuid.UUID, actor: str
) -> None:
    """A new version starts with the forms of the version it follows."""
    now = dt.datetime.now(dt.UTC)
    for form in await forms_of(session, source):
        session.add(
            DefinitionForm(
                definition_id=target,
                name=form.name,
                schema=form.schema,
                ui_schema=form.ui_schema,
                rules=form.rules,
                updated_by=actor,
                updated_at=now,
            )
        )
    await session.flush()


async def published_forms(
    session: AsyncSession, definition_id: uuid.UUID
) -> dict[str, dict[str, Any]]:
    """The forms as the runtime gets them: keyed `form:<name>`, dictionaries resolved."""
    rows = await forms_of(session, definition_id)
    keys: set[str] = set()
    for row in rows:
        keys |= dictionary_keys(row.schema)
    items = await dictionaries.resolved(session, keys)
    return {
        f"{FORM_PREFIX}{row.name}": {
            "schema": resolve_dictionaries(row.schema, items) if keys else row.schema,
            "ui_schema": row.ui_schema,
            "rules": row.rules,
        }
        for row in rows
    }


async def publication_problems(
    session: AsyncSession, definition_id: uuid.UUID, referenced: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]]:
    """Lint-style findings for publication: forms the BPMN names but the version lacks,
    and stored forms that are no longer valid (a dictionary was deleted)."""
    rows = {row.name: row for row in await forms_of(session, definition_id)}
    findings: list[dict[str, Any]] = []
    for name, element_ids in sorted(referenced.items()):
        if name not in rows:
            for element_id in element_ids:
                findings.append(
                    {
                        "rule": "form-reference",
                        "severity": "error",
                        "element_id": element_id,
                        "message": f"the form {FORM_PREFIX}{name} is not defined for this version",
                    }
                )
    for name, row in sorted(rows.items()):
        for problem in await form_problems(session, as_dict(row)):
            findings.append(
                {
                    "rule": "form-valid",
                    "severity": "error",
                    "element_id": None,
                    "message": f"form {name}: {problem['field']}: {problem['message']}",
                }
            )
    return findings


async def validate(
    session: AsyncSession,
    definition_id: uuid.UUID,
    name: str,
    data: Mapping[str, Any],
    context: Mapping[str, Any],
) -> list[dict[str, str]]:
    row = await get_form(session, definition_id, name)
    keys = dictionary_keys(row.schema)
    items = await dictionaries.resolved(session, keys) if keys else None
    return validate_form(as_dict(row), data, dictionaries=items, context=context)


def _check_draft(definition: Definition) -> None:
    if definition.status != DRAFT:
        raise Conflict(
            f"version {definition.version} is {definition.status}; forms change only on drafts "
            "(upload or edit to make a new version)",
            errors=[field_error("definition", f"not a draft ({definition.status})")],
        )
