"""What the running notifier holds besides the database: keys, senders, the HTTP client of
action links and the event-stream hub. Made once per app in a start-up hook and reachable
from handlers as `notifier(request)` and from workers as `ctx.extras[EXTRAS_KEY]`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import httpx
from fastapi import Request

from bpm_common.app import ServiceContext
from bpm_common.auth import TokenIssuer
from services.notifier.actions.service import ActionLinks
from services.notifier.actions.tokens import ActionSigner
from services.notifier.channels.crypto import SecretBox
from services.notifier.deliveries.senders.registry import SenderRegistry
from services.notifier.keys import action_link_key, channel_secrets_key
from services.notifier.notifications.hub import InboxHub
from services.notifier.settings import NotifierSettings

EXTRAS_KEY = "notifier"


@dataclass
class NotifierRuntime:
    settings: NotifierSettings
    box: SecretBox
    senders: SenderRegistry
    signer: ActionSigner | None
    actions: ActionLinks
    hub: InboxHub

    @classmethod
    def build(cls, settings: NotifierSettings, ctx: ServiceContext) -> NotifierRuntime:
        box = SecretBox(channel_secrets_key(settings))
        key = action_link_key(settings)
        signer = (
            ActionSigner(key, ttl=dt.timedelta(seconds=settings.action_link_ttl))
            if key is not None
            else None
        )
        common = settings.common
        issuer = TokenIssuer(common) if common.jwt_secret is not None else None
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.gateway_timeout, connect=5.0),
            headers={"User-Agent": "bpm-notifier"},
            follow_redirects=False,
        )
        return cls(
            settings=settings,
            box=box,
            senders=SenderRegistry(settings, box),
            signer=signer if issuer is not None else None,
            actions=ActionLinks(
                signer=signer,
                issuer=issuer,
                client=client,
                gateway_url=settings.gateway_url or common.public_url,
            ),
            hub=InboxHub(ctx.db.url, application_name="notifier-stream"),
        )

    async def close(self) -> None:
        await self.hub.stop()
        await self.actions.client.aclose()


def notifier(request: Request) -> NotifierRuntime:
    ctx: ServiceContext = request.app.state.ctx
    return ctx.extras[EXTRAS_KEY]
