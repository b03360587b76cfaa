"""The sender abstraction: a sender takes one rendered message to one address.

A sender raises `DeliveryError` with a text fit for the delivery log (never a secret) when
the message did not go out, saying whether trying again may help (connection errors,
timeouts, 5xx and 429 may; other 4xx answers and unusable settings will not).
Senders are asynchronous; those built on blocking Apprise run it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class DeliveryError(Exception):
    """The message did not go out; `str(error)` says why, without secrets."""

    def __init__(self, reason: str, *, permanent: bool = False, status: int | None = None) -> None:
        super().__init__(reason)
        self.permanent, self.status = permanent, status

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    recipient: str  # username
    address: str  # where on the channel: an email address, a chat user id to mention, or ""
    kind: str  # the notification kind
    title: str
    body: str  # in the sender's `format`
    link: str | None = None
    #: extra fields for structured channels (the generic webhook): task id, action links, ...
    fields: Mapping[str, str] = field(default_factory=dict)


class ChannelSender(Protocol):
    #: the channel kind this sender serves (`email`, `dingtalk`, ...)
    kind: str
    #: the template format it sends (`html`, `markdown`, `text`)
    format: str

    async def send(self, message: OutgoingMessage) -> None:
        """Send the message or raise `DeliveryError`."""
        ...
