"""HTTP API: Administrator interventions, each with a required reason, audited."""

from bpm_common.http import api_router

router = api_router(prefix="/api/v1", tags=["administration"])
