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
from services.designer.org.api import router as org_router
from services.designer.seeding.demo import seed_on_startup


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="designer",
        title="BPM designer",
        description=(
            "Process definitions (BPMN 2.0): upload, versions, lint, publication (trial and live); "
            "the organisation model (departments, users, roles)."
        ),
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[definitions_router, org_router, auth_router],
        on_startup=[seed_on_startup],
    )
