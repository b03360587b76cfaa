"""Who may read analytics, reports and exports (the gateway applies the same rule)."""

from bpm_common.auth import ADMIN, DESIGNER

ANALYST = "analyst"
PROCESS_OWNER = "process_owner"
READERS = (ADMIN, DESIGNER, ANALYST, PROCESS_OWNER)
