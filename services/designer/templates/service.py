"""Installing a template: the dictionaries its forms use (those missing), then its BPMN
and forms as the next version of its key, published live when asked."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bpm_common.events.outbox import EventWriter
from services.designer.definitions import service as definitions
from services.designer.definitions.models import Definition
from services.designer.definitions.parsing import Limits
from services.designer.dictionaries import service as dictionaries
from services.designer.dictionaries.schemas import DictionaryIn
from services.designer.templates.catalogue import Template, load


async def install(
    session: AsyncSession,
    events: EventWriter,
    name: str,
    *,
    publish: bool,
    actor: str,
    limits: Limits,
) -> tuple[Definition, list[str]]:
    """The new definition and the dictionaries created for it."""
    template = load(name)
    created = await _dictionaries(session, template, actor)
    definition = await definitions.create_version(
        session,
        data=template.bpmn,
        actor=actor,
        limits=limits,
        change_note=f"installed from the template {name}",
        new_forms=template.forms,
    )
    if publish:
        definition = await definitions.publish(
            session,
            events,
            definition_id=definition.id,
            mode="live",
            trial_roles=None,
            actor=actor,
            limits=limits,
        )
    return definition, created


async def _dictionaries(session: AsyncSession, template: Template, actor: str) -> list[str]:
    existing = await dictionaries.existing(session, template.dictionaries)
    created = []
    for key, body in template.dictionaries.items():
        if key not in existing:
            await dictionaries.put(session, key, DictionaryIn.model_validate(body), actor)
            created.append(key)
    return created
