"""HTTP API: Messages (correlated to one instance or starting one) and broadcast signals."""

from bpm_common.http import api_router

router = api_router(prefix="/api/v1", tags=["messages and signals"])
