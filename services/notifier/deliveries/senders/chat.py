"""Chat and webhook channels through Apprise's plugins, so every payload is the platform's own.

| kind     | Apprise plugin | what the platform receives                                   |
|----------|----------------|--------------------------------------------------------------|
| dingtalk | `dingtalk://`  | `msgtype: markdown` (+ `at.atMobiles` for the person)        |
| wecom    | `wecombot://`  | `msgtype: text`                                              |
| feishu   | `feishu://`    | `msg_type: text`, `content.text`                             |
| lark     | `lark://`      | `msg_type: text`, `content.text`                             |
| slack    | `slack://`     | Block Kit: header + mrkdwn section (`?blocks=yes`; Apprise   |
|          |                | turns the Markdown into Slack's mrkdwn)                      |
| teams    | `workflows://` | an Adaptive Card in a `message` (Power Automate workflow)    |
| webhook  | `json://`      | `{"title", "body", "type", "kind", "link", ...}`             |

The person is mentioned where the platform allows it in the message itself (their id
from their preferences). The configured URL is decrypted only for the send; error texts
are scrubbed of its secret parts.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from urllib.parse import quote, urlencode

import apprise

from services.notifier.apprise_support import failure_of, quiet_apprise
from services.notifier.channels.urls import scrub, secret_fragments
from services.notifier.deliveries.models import ChannelKind
from services.notifier.deliveries.senders.base import DeliveryError, OutgoingMessage

#: template format per chat kind
FORMATS: dict[str, str] = {
    ChannelKind.DINGTALK: "markdown",
    ChannelKind.WECOM: "text",
    ChannelKind.FEISHU: "text",
    ChannelKind.LARK: "text",
    ChannelKind.SLACK: "markdown",
    ChannelKind.TEAMS: "markdown",
    ChannelKind.WEBHOOK: "text",
}
_BODY_FORMAT = {
    "markdown": apprise.NotifyFormat.MARKDOWN,
    "text": apprise.NotifyFormat.TEXT,
}
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{9,18}$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._@:+-]{1,120}$")


class AppriseSender:
    """One configured chat channel (a group robot, an incoming webhook, ...)."""

    def __init__(self, kind: ChannelKind, url: str, *, timeout: float = 10.0) -> None:
        if kind not in FORMATS:
            raise ValueError(f"{kind} is not a chat channel")
        self.kind = kind.value
        self.format = FORMATS[kind]
        self._url, self._timeout = url, timeout
        self._secrets = secret_fragments(url)
        self._asset = apprise.AppriseAsset(app_id="BPM", app_desc="BPM platform notifications")
        quiet_apprise()

    async def send(self, message: OutgoingMessage) -> None:
        await asyncio.to_thread(self._send_blocking, message)

    def _send_blocking(self, message: OutgoingMessage) -> None:
        plugin = apprise.Apprise.instantiate(self._apprise_url(message), asset=self._asset)
        if plugin is None:
            raise DeliveryError(
                f"the {self.kind} channel's URL is not accepted by Apprise", permanent=True
            )
        # the channel's token bucket paces sends; Apprise's own pause between two requests
        # of one plugin object (5.5 s, which its Lark plugin takes on every message) is off
        plugin.request_rate_per_sec = 0
        sender = apprise.Apprise(asset=self._asset)
        sender.add(plugin)
        result = sender.notify(
            body=self._body(message),
            title=message.title,
            body_format=_BODY_FORMAT[self.format],
            log_level=logging.DEBUG,
        )
        if not result:
            failure = failure_of(result, fallback=f"the {self.kind} service refused the message")
            raise DeliveryError(
                scrub(failure.reason, self._secrets),
                permanent=failure.permanent,
                status=failure.status,
            )

    def _apprise_url(self, message: OutgoingMessage) -> str:
        """The configured URL with this message's parameters (timeouts, mentions, fields)."""
        params: dict[str, str] = {"cto": f"{self._timeout:g}", "rto": f"{self._timeout:g}"}
        kind = ChannelKind(self.kind)
        if kind is ChannelKind.DINGTALK:
            params["format"] = "markdown"
            if _PHONE.match(message.address):
                params["to"] = message.address
        elif kind is ChannelKind.SLACK:
            params.update(blocks="yes", footer="no", image="no", format="markdown")
        elif kind is ChannelKind.TEAMS:
            params.update(image="no", format="markdown")
        elif kind is ChannelKind.WEBHOOK:
            params.update(_webhook_fields(message))
        else:
            params["format"] = "text"
        joiner = "&" if "?" in self._url else "?"
        return self._url + joiner + urlencode(params, quote_via=quote)

    def _body(self, message: OutgoingMessage) -> str:
        """The rendered body, with the person mentioned where the platform reads mentions."""
        who = message.address
        if not who or not _SAFE_ID.match(who):
            return message.body
        kind = ChannelKind(self.kind)
        if kind is ChannelKind.DINGTALK and _PHONE.match(who):
            return f"@{re.sub(r'[^0-9]', '', who)}\n\n{message.body}"
        if kind is ChannelKind.SLACK:
            return f"<@{who}>\n{message.body}"
        if kind is ChannelKind.TEAMS:
            return f"<at>{who}</at>\n\n{message.body}"
        if kind in (ChannelKind.FEISHU, ChannelKind.LARK):
            return f'<at user_id="{who}">{message.recipient}</at>\n{message.body}'
        return message.body


def _webhook_fields(message: OutgoingMessage) -> dict[str, str]:
    """Apprise JSON payload extras: `message` is renamed `body`; the message's fields added."""
    fields: dict[str, str] = {":message": "body", ":kind": message.kind}
    fields[":recipient"] = message.recipient
    if message.link:
        fields[":link"] = message.link
    for name, value in _plain(message.fields).items():
        fields[f":{name}"] = value
    return fields


def _plain(fields: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in fields.items() if k.isidentifier() and isinstance(v, str) and v}
