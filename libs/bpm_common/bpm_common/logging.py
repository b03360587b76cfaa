"""Structured JSON logs with a correlation id.

Every log line is one JSON object carrying the service name and whatever the
current unit of work bound (`request_id`, `correlation_id`, `instance_id`,
`task_id`, ...). The correlation id arrives with an HTTP request
(`X-Request-ID`) or with an event (the `X-Correlation-ID` NATS header) and is
passed on in every event the unit of work emits.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from typing import Any

import structlog

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

_SECRET_KEYS = re.compile(r"(password|secret|token|authorization|api_key|apikey)", re.I)


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Never let a secret reach the log, whatever the caller bound."""
    for key in list(event):
        if key != "event" and _SECRET_KEYS.search(key):
            event[key] = "***"
    return event


def configure_logging(service: str, *, level: str = "INFO", json_output: bool = True) -> None:
    """Route structlog and the standard library through one JSON renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer,
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "httpcore", "nats", "asyncio", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
