"""Small asyncio helpers shared by the background loops."""

from __future__ import annotations

import asyncio


async def wait_for_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` seconds pass; True when it was set.

    The loops that poll (outbox relay, job worker, delivery worker) wake early when
    local work signals them and otherwise look again after the timeout.
    """
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True
