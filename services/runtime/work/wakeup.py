"""In-process wake-ups: new work committed here wakes the connector and long-polling workers.

Other replicas do not hear them; they poll at a short interval, so a wake-up only
shortens the wait and is never needed for correctness.
"""

from __future__ import annotations

import asyncio

from bpm_common.app import ServiceContext

HTTP_WORK = "work.http"
EXTERNAL_WORK = "work.external"


class Wakeup:
    """Wakes every current waiter at once; waiters that come later wait for the next notice."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """Wait up to `seconds`; True when woken."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            return False
        return True


def wakeup(ctx: ServiceContext, name: str) -> Wakeup:
    found = ctx.extras.get(name)
    if found is None:
        found = ctx.extras[name] = Wakeup()
    return found  # type: ignore[no-any-return]
