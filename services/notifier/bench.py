"""Delivery speed: notifications delivered per second by the real delivery worker, over a
real database, to a local SMTP server (aiosmtpd) and to a local webhook receiver (aiohttp).

`bench_deliveries(n)` makes a scratch database on the PostgreSQL server of
`BPM_DATABASE_URL` (dropped afterwards), queues `n` task notifications for email and `n`
for a generic JSON webhook channel (rendered, with their delivery rows, as the event
handlers make them), then times the worker rounds that send them all.

What bounds the SMTP figure: Apprise opens one SMTP connection per message and builds a
TLS context with the system CA store for each (about 18 ms of CPU under the GIL, even for
a plain connection), so a 2-core machine sends a few dozen mails per second per process.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
import uuid
from typing import Any

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bpm_common.db import Database, drop_database, ensure_database
from bpm_common.ids import uuid7
from bpm_common.logging import configure_logging
from bpm_common.migrations import upgrade_to_head
from bpm_common.settings import CommonSettings
from services.notifier.app import definition, notification_rules
from services.notifier.channels.crypto import SecretBox
from services.notifier.channels.models import ChannelConfig
from services.notifier.channels.urls import mask
from services.notifier.deliveries.models import Delivery, DeliveryStatus
from services.notifier.deliveries.senders.registry import SenderRegistry
from services.notifier.deliveries.worker import DeliveryDispatcher
from services.notifier.keys import channel_secrets_key
from services.notifier.notifications.kinds import Kind
from services.notifier.notifications.service import Recipient, Subject
from services.notifier.preferences.rules import Effective
from services.notifier.settings import NotifierSettings

PUBLIC_URL = "http://127.0.0.1:8000"
SENDER = "bench@example.com"
_PEOPLE = 50
DEFAULT_N = 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Mailbox:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        return "250 Message accepted"


async def _webhook_receiver(port: int) -> tuple[web.AppRunner, dict[str, int]]:
    received = {"count": 0}

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        received["count"] += 1
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, received


async def _queue(
    db: Database,
    settings: NotifierSettings,
    n: int,
    channel: str,
    config: ChannelConfig | None,
) -> None:
    """`n` task notifications whose only outgoing channel is `channel`."""
    rules = notification_rules(settings, email_available=True)
    prefs = Effective(channels={"*": [channel]})
    recipients = [
        Recipient(f"bench{i}", "en", f"bench{i}@example.com", prefs) for i in range(_PEOPLE)
    ]
    async with db.transaction() as session:
        if config is not None:
            session.add(config)
            await session.flush()
        for i in range(n):
            task_id = str(uuid7())
            subject = Subject(
                kind=Kind.TASK_ASSIGNED,
                context={
                    "task_name": f"Finance review {i}",
                    "process_key": "expense-reimbursement",
                    "business_key": f"EXP-{i}",
                    "due_at": "2026-03-03T17:30:00Z",
                },
                link=f"{PUBLIC_URL}/tasks/{task_id}",
                task_id=task_id,
                instance_id=str(uuid7()),
                process_key="expense-reimbursement",
            )
            await rules.notify(
                session, uuid7(), "bpm.runtime.task.created", subject, [recipients[i % _PEOPLE]]
            )


async def _drain(dispatcher: DeliveryDispatcher, expected: int, received: Any) -> float:
    """Seconds the worker takes to send every queued delivery."""
    started = time.perf_counter()
    while received() < expected:
        if await dispatcher.run_once() == 0 and received() < expected:
            await asyncio.sleep(0.01)
        if time.perf_counter() - started > 600:
            raise RuntimeError(f"only {received()} of {expected} deliveries arrived")
    return time.perf_counter() - started


async def bench_deliveries(
    n: int | str = DEFAULT_N, database_url: str | None = None
) -> dict[str, float]:
    """Notifications delivered per second to SMTP and to a webhook, `n` of each.

    The PostgreSQL server is `database_url` or `BPM_DATABASE_URL`; `bpm_stack.bench` passes
    the server URL as the only argument, which is accepted too (then `DEFAULT_N` of each).
    """
    from aiosmtpd.controller import Controller

    if isinstance(n, str):
        n, database_url = DEFAULT_N, n
    server = database_url or os.environ.get("BPM_DATABASE_URL")
    if not server:
        raise RuntimeError("BPM_DATABASE_URL must name a PostgreSQL server")
    name = f"bench_notifier_{secrets.token_hex(3)}"
    url = make_url(server).set(drivername="postgresql+asyncpg", database=name)
    smtp_port, hook_port = _free_port(), _free_port()
    settings = NotifierSettings(
        common=CommonSettings(
            database_url=server,
            jwt_secret=SecretStr(secrets.token_urlsafe(32)),
            public_url=PUBLIC_URL,
            log_level="WARNING",
        ),
        database_name=name,
        smtp_url=SecretStr(f"smtp://127.0.0.1:{smtp_port}?from={SENDER}&starttls=false"),
        delivery_batch_size=200,
        delivery_concurrency=16,
    )
    configure_logging("notifier-bench", level="WARNING")
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    runner, hook = await _webhook_receiver(hook_port)
    await ensure_database(url)
    db = Database(url, application_name="notifier-bench", pool_size=5)
    try:
        await upgrade_to_head(db.engine, definition(settings).migrations, "notifier")
        box = SecretBox(channel_secrets_key(settings))
        dispatcher = DeliveryDispatcher(db, SenderRegistry(settings, box), settings)

        await _queue(db, settings, n, "email", None)
        smtp_seconds = await _drain(dispatcher, n, lambda: mailbox.count)

        hook_url = f"json://127.0.0.1:{hook_port}/hook"
        config = ChannelConfig(
            id=uuid.uuid4(),
            name="bench-hook",
            kind="webhook",
            secret_url=box.seal(hook_url),
            target=mask(hook_url),
            created_by="bench",
        )
        await _queue(db, settings, n, "bench-hook", config)
        hook_seconds = await _drain(dispatcher, n, lambda: hook["count"])
        await _check_all_sent(db, 2 * n)
    finally:
        await db.dispose()
        await runner.cleanup()
        controller.stop()
        await drop_database(url, name)
    return {
        "notify_smtp_per_second": round(n / smtp_seconds, 1),
        "notify_webhook_per_second": round(n / hook_seconds, 1),
    }


async def _check_all_sent(db: Database, expected: int) -> None:
    async with db.transaction() as session:
        sent = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status == DeliveryStatus.SENT, Delivery.channel != "in_app")
        )
    if sent != expected:
        raise RuntimeError(f"{sent} of {expected} deliveries recorded as sent")


if __name__ == "__main__":  # pragma: no cover - a manual run
    print(asyncio.run(bench_deliveries(int(os.environ.get("BENCH_N", str(DEFAULT_N))))))
