"""A PostgreSQL LISTEN connection that a process keeps open across outages.

`pg_notify` in a unit of work is delivered when (and only if) that work commits, to
every listening connection: the way one replica tells the others that something
changed (a new inbox notification, a saved calendar) without polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import URL, make_url

from bpm_common.logging import get_logger

log = get_logger(__name__)


async def listen_forever(
    url: URL | str,
    channel: str,
    on_notify: Callable[[str], None],
    *,
    application_name: str,
    on_connected: Callable[[], None] = lambda: None,
    on_lost: Callable[[], None] = lambda: None,
) -> None:
    """Listen on `channel` and call `on_notify(payload)` for each notification; returns only
    when cancelled. `on_connected` runs once each (re)connection listens (what came meanwhile
    was missed), `on_lost` whenever it stops listening; reconnects with a growing delay."""
    url = make_url(url) if isinstance(url, str) else url
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    delay = 0.5
    while True:
        lost = asyncio.Event()
        connection: asyncpg.Connection | None = None
        listening = False
        try:
            connection = await asyncpg.connect(dsn, server_settings={"application_name": application_name})
            connection.add_termination_listener(lambda _, lost=lost: lost.set())
            await connection.add_listener(channel, _forward(on_notify))
            listening = True
            on_connected()
            delay = 0.5
            await lost.wait()
            log.warning("listen_connection_lost", channel=channel)
        except Exception as exc:  # noqa: BLE001 - the listener outlives database outages
            log.warning("listen_failed", channel=channel, error=type(exc).__name__)
        finally:
            if listening:
                on_lost()
            if connection is not None and not connection.is_closed():
                with contextlib.suppress(OSError, asyncpg.InterfaceError, asyncio.TimeoutError):
                    await asyncio.shield(connection.close(timeout=2))
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)


def _forward(on_notify: Callable[[str], None]) -> Callable[..., None]:
    def _callback(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        on_notify(payload)

    return _callback
