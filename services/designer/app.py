"""The designer as a `ServiceDefinition`: its routers, tables and start-up hooks.

It publishes `bpm.designer.definition.*` and `bpm.designer.org.*` events to its own
stream and consumes none.
"""

from __future__ import annotations

from pathlib import Path

from bpm_common.app import ServiceDefinition
from services.designer import models  # noqa: F401 - registers every table
from services.designer.auth.api import router as auth_router
from services.designer.database import Base
from services.designer.definitions.api import router as definitions_router
from services.designer.dictionaries.api import router as dictionaries_router
from services.designer.forms.api import definition_forms as definition_forms_router
from services.designer.forms.api import router as forms_router
from services.designer.org.api import router as org_router
from services.designer.seeding.demo import seed_on_startup
from services.designer.suggestions.api import router as suggestions_router
from services.designer.templates.api import router as templates_router
from services.designer.trees.api import router as trees_router


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="designer",
        title="BPM designer",
        description=(
            "Process definitions (BPMN 2.0): import and export without loss, edits, versions, "
            "structural diff, lint, publication (trial and live); the approval-tree builder; "
            "forms (JSON Schema 2020-12) and attachments; data dictionaries; templates; the "
            "suggestion box; the organisation model (departments, positions, users, roles)."
        ),
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[
            definitions_router,
            definition_forms_router,
            forms_router,
            trees_router,
            templates_router,
            dictionaries_router,
            suggestions_router,
            org_router,
            auth_router,
        ],
        on_startup=[seed_on_startup],
    )
