"""`POST /api/v1/analytics/what-if`: the expected cycle time of a changed model."""

from __future__ import annotations

from fastapi import Request

from bpm_common.auth import require_roles
from bpm_common.db import SessionDep
from bpm_common.http import api_router
from services.metrics.roles import READERS
from services.metrics.whatif import service
from services.metrics.whatif.schemas import WhatIfRequest, WhatIfResult

router = api_router(
    prefix="/api/v1/analytics", tags=["analytics"], dependencies=[require_roles(*READERS)]
)


@router.post(
    "/what-if",
    summary="Simulate the cycle time of a changed model from the recorded node durations",
    description="Give the changed model as `bpmn`, or a change of the published model as "
    "`parallelize` (groups of nodes that follow one another, to run side by side). Node "
    "durations are drawn from their recorded history, exclusive branches are taken with "
    "their recorded frequencies; the same `seed` gives the same answer.",
)
async def what_if(session: SessionDep, request: Request, body: WhatIfRequest) -> WhatIfResult:
    settings = request.app.state.settings
    return await service.what_if(session, body, max_runs=settings.what_if_max_runs)
