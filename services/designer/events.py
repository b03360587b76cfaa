"""The events the designer publishes (see docs/events.md), built in one place."""

from __future__ import annotations

import base64
import gzip
from typing import Any

from bpm_common import jsonutil
from bpm_common.events.envelope import Event, new_event

SOURCE = "designer"

DEFINITION_PUBLISHED = "bpm.designer.definition.published"
DEFINITION_DEPRECATED = "bpm.designer.definition.deprecated"
DEPARTMENT_UPSERTED = "bpm.designer.org.department.upserted"
DEPARTMENT_DELETED = "bpm.designer.org.department.deleted"
USER_UPSERTED = "bpm.designer.org.user.upserted"
USER_DELETED = "bpm.designer.org.user.deleted"


def gzip_b64(data: bytes) -> str:
    """base64 of gzip of `data`; `mtime=0` so the same bytes always give the same text."""
    return base64.b64encode(gzip.compress(data, mtime=0)).decode("ascii")


def event(type_: str, subject: str, data: dict[str, Any], sequence: int) -> Event:
    return new_event(type_, subject, jsonutil.jsonable(data), source=SOURCE, sequence=sequence)
