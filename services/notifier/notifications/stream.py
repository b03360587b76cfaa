"""The body of one person's event stream: missed notifications, then new ones as they come.

The stream subscribes to the hub before it reads the backlog, so nothing committed in
between is lost; each notification is sent once (ids already sent are skipped). New
notifications are read by the id the hub announced, in a short transaction each; after
the hub lost its connection, the stream reads everything after the last id it sent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator

from bpm_common import jsonutil
from bpm_common.db import Database
from services.notifier.notifications import repository
from services.notifier.notifications.hub import RESYNC, InboxHub
from services.notifier.notifications.models import Notification
from services.notifier.notifications.schemas import NotificationOut

_REMEMBERED = 2000


def event_text(row: Notification) -> str:
    data = jsonutil.dumps(NotificationOut.of(row).model_dump())
    return f"id: {row.id}\nevent: notification\ndata: {data}\n\n"


async def inbox_events(
    db: Database,
    hub: InboxHub,
    username: str,
    *,
    after: uuid.UUID | None,
    heartbeat: float,
    backlog: int,
) -> AsyncIterator[str]:
    sent: OrderedDict[uuid.UUID, None] = OrderedDict()
    last = after

    def fresh(rows: list[Notification]) -> list[Notification]:
        nonlocal last
        out = [r for r in rows if r.id not in sent]
        for row in out:
            sent[row.id] = None
            if len(sent) > _REMEMBERED:
                sent.popitem(last=False)
            last = row.id if last is None or row.id > last else last
        return out

    with hub.subscribe(username) as queue:
        yield "retry: 3000\n: connected\n\n"
        if after is not None:
            async with db.transaction() as session:
                rows = await repository.after(session, username, after, backlog)
            for row in fresh(rows):
                yield event_text(row)
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=heartbeat)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            async with db.transaction() as session:
                if item == RESYNC:
                    rows = (
                        await repository.after(session, username, last, backlog)
                        if last is not None
                        else []
                    )
                else:
                    row = await repository.get_for(session, uuid.UUID(item), username)
                    rows = [row] if row is not None else []
            for row in fresh(rows):
                yield event_text(row)
