"""HTTP API: Copies (CC) of instances to people and roles, with read receipts."""

from bpm_common.http import api_router

router = api_router(prefix="/api/v1", tags=["copies"])
