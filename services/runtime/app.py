"""The runtime as a `ServiceDefinition`: its routers, tables, consumed events and workers."""

from __future__ import annotations

from pathlib import Path

from bpm_common.app import ServiceDefinition
from services.runtime import models  # noqa: F401 - registers every table
from services.runtime.database import Base


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="runtime",
        title="BPM runtime",
        description="Process instances, tasks, history: the process engine with persistence.",
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        routers=[],
    )
