"""HTTP API: Call activities: child instances started and their results passed back."""

from bpm_common.http import api_router

router = api_router(prefix="/api/v1", tags=["call activities"])
