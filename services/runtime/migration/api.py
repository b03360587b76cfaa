"""HTTP API: Migrating running instances from one definition version to another."""

from bpm_common.http import api_router

router = api_router(prefix="/api/v1", tags=["migration"])
