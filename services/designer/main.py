"""ASGI entry point: `uvicorn services.designer.main:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from bpm_common.app import create_app as create_service_app
from bpm_common.db import Database
from bpm_common.events.broker import Broker
from services.designer.app import definition
from services.designer.settings import DesignerSettings


def create_app(
    settings: DesignerSettings | None = None,
    *,
    db: Database | None = None,
    broker: Broker | None = None,
) -> FastAPI:
    return create_service_app(definition(), settings or DesignerSettings(), db=db, broker=broker)
