"""The whole platform as processes: five services over real PostgreSQL and NATS JetStream.

The stack gets its own databases (`<run prefix>e_<service>`) and event namespace,
free ports, the demo organisation, and a real SMTP server (aiosmtpd) for email.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import make_url

from bpm_common.db import drop_database
from bpm_common.testing.plugin import TEST_JWT_SECRET
from bpm_stack.embedded import free_port
from bpm_stack.stack import BACKENDS, SERVICES, Stack

T = TypeVar("T")
DEMO_PASSWORD = "e2e-demo-password"


class MailBox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        msg = message_from_bytes(envelope.content, policy=policy.default)
        msg["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 OK"


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[MailBox, int]]:
    box = MailBox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def make_stack(pg_url: str, nats_url: str, prefix: str, log_dir: Path, **extra_env: str) -> Stack:
    return Stack(
        database_url=pg_url,
        nats_url=nats_url,
        jwt_secret=TEST_JWT_SECRET,
        log_dir=log_dir,
        ports={name: free_port() for name in SERVICES},
        prefix=prefix,
        seed_demo=True,
        extra_env={"BPM_DEMO_PASSWORD": DEMO_PASSWORD, "BPM_LOG_LEVEL": "INFO", **extra_env},
    )


def drop_stack_databases(pg_url: str, prefix: str) -> None:
    async def _drop() -> None:
        url = make_url(pg_url).set(drivername="postgresql+asyncpg")
        for svc in BACKENDS:
            await drop_database(url, f"{prefix}_{svc}")

    asyncio.run(_drop())


@pytest.fixture(scope="session")
def stack(pg_url, nats_url, run_prefix, smtp_server, tmp_path_factory) -> Iterator[Stack]:
    _, smtp_port = smtp_server
    prefix = f"{run_prefix}e"
    s = make_stack(
        pg_url, nats_url, prefix, tmp_path_factory.mktemp("e2e-logs"),
        BPM_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}?from=bpm@e2e.test",
    )
    try:
        s.start(timeout=120)
        yield s
    finally:
        s.stop()
        drop_stack_databases(pg_url, prefix)


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 20.0, interval: float = 0.1) -> T:
    """Retry `check` until it returns without AssertionError (events arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(interval)


class Gateway:
    """An HTTP client of the gateway that logs users in with the demo password."""

    def __init__(self, url: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=30.0)
        self._tokens: dict[str, str] = {}

    async def login(self, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
        if username not in self._tokens:
            r = await self.http.post("/api/v1/auth/token", json={"username": username, "password": password})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["token_type"] == "bearer" and body["expires_in"] > 0
            self._tokens[username] = body["access_token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def gw(stack: Stack) -> AsyncIterator[Gateway]:
    """A client of the session's stack's gateway."""
    client = Gateway(stack.url("gateway"))
    yield client
    await client.close()
