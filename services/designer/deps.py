"""Request dependencies shared by the designer's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bpm_common.events.outbox import EventWriter
from services.designer.definitions.parsing import Limits
from services.designer.settings import DesignerSettings


def get_events(request: Request) -> EventWriter:
    """The outbox writer of the running service."""
    return request.app.state.ctx.events


def get_settings(request: Request) -> DesignerSettings:
    return request.app.state.settings


EventsDep = Annotated[EventWriter, Depends(get_events)]
SettingsDep = Annotated[DesignerSettings, Depends(get_settings)]


def limits_of(settings: DesignerSettings) -> Limits:
    """The BPMN parsing limits the settings set."""
    return Limits(max_bytes=settings.max_bpmn_bytes, max_depth=settings.max_bpmn_depth)
