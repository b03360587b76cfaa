"""HTTP API: Approval operations on tasks and instances: return, withdraw, add or remove signers, transfer, delegate, claim, urge."""

from bpm_common.http import api_router

router = api_router(prefix="/api/v1", tags=["approval operations"])
