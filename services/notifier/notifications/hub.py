"""New inbox notifications pushed to open event streams, across replicas.

The unit of work that writes a notification also runs `pg_notify` on `CHANNEL` with
`<recipient> <notification id>`; PostgreSQL delivers it when (and only if) the work
commits, to every listening connection. Each notifier process keeps one dedicated
asyncpg connection that listens, and fans each message out in memory to the streams of
that recipient (no polling per client). After the listening connection was lost, every
stream is told to resync: it reads what it missed from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy.engine import URL

from bpm_common.listen import listen_forever

CHANNEL = "bpm_notifier_inbox"
#: put on a stream's queue when it may have missed notifications
RESYNC = "resync"
_QUEUE_SIZE = 1000


class InboxHub:
    def __init__(self, url: URL | str, *, application_name: str = "notifier-stream") -> None:
        self._url = url
        self._application_name = application_name
        self._streams: dict[str, set[asyncio.Queue[str]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="inbox-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.contextmanager
    def subscribe(self, username: str) -> Iterator[asyncio.Queue[str]]:
        """A queue of the person's new notification ids (or `RESYNC`), while the block runs."""
        queue: asyncio.Queue[str] = asyncio.Queue(_QUEUE_SIZE)
        self._streams[username].add(queue)
        try:
            yield queue
        finally:
            streams = self._streams.get(username)
            if streams is not None:
                streams.discard(queue)
                if not streams:
                    del self._streams[username]

    async def _run(self) -> None:
        await listen_forever(
            self._url,
            CHANNEL,
            self._on_notify,
            application_name=self._application_name,
            on_connected=self._connected,
            on_lost=self.listening.clear,
        )

    def _connected(self) -> None:
        self.listening.set()
        self._broadcast(RESYNC)  # whatever came while we were not listening

    def _on_notify(self, payload: str) -> None:
        recipient, _, notification_id = payload.rpartition(" ")
        for queue in list(self._streams.get(recipient, ())):
            _offer(queue, notification_id)

    def _broadcast(self, item: str) -> None:
        for streams in list(self._streams.values()):
            for queue in list(streams):
                _offer(queue, item)


def _offer(queue: asyncio.Queue[str], item: str) -> None:
    """Queue `item`; a stream too far behind is told to resync instead."""
    try:
        queue.put_nowait(item)
    except asyncio.QueueFull:
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(RESYNC)
