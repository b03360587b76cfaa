"""ASGI entry point: `uvicorn services.notifier.main:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from bpm_common.app import create_app as create_service_app
from bpm_common.db import Database
from bpm_common.events.broker import Broker
from services.notifier.app import definition
from services.notifier.settings import NotifierSettings


def create_app(
    settings: NotifierSettings | None = None,
    *,
    db: Database | None = None,
    broker: Broker | None = None,
) -> FastAPI:
    settings = settings or NotifierSettings()
    return create_service_app(definition(settings), settings, db=db, broker=broker)
