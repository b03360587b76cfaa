"""HTTP API: Automated steps: HTTP calls, external tasks fetched by workers, incidents."""

from bpm_common.http import api_router

router = api_router(prefix="/api/v1", tags=["automated work"])
