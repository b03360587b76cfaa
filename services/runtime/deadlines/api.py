"""HTTP API: Business calendars, working-time limits, reminders, overdue actions."""

from bpm_common.http import api_router

router = api_router(prefix="/api/v1", tags=["deadlines"])
