"""ASGI entry point: `uvicorn services.metrics.main:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from bpm_common.app import create_app as create_service_app
from bpm_common.db import Database
from bpm_common.events.broker import Broker
from services.metrics.app import definition
from services.metrics.settings import MetricsSettings


def create_app(
    settings: MetricsSettings | None = None,
    *,
    db: Database | None = None,
    broker: Broker | None = None,
) -> FastAPI:
    settings = settings or MetricsSettings()
    return create_service_app(definition(settings), settings, db=db, broker=broker)
