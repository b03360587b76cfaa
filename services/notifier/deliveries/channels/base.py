"""The channel abstraction: a sender takes one rendered message to one address.

A sender raises `DeliveryError` with a text fit for the delivery log (never a secret)
when the message did not go out; the delivery worker records it and retries later.
Senders are asynchronous; one built on a blocking library runs it in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class DeliveryError(Exception):
    """The message did not go out; `str(error)` says why, without secrets."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    recipient: str  # username
    address: str  # where the channel sends it (an email address, a chat user id, ...)
    locale: str
    subject: str
    text: str
    link: str | None


class ChannelSender(Protocol):
    #: the `deliveries.channel` value this sender handles
    name: str

    async def send(self, message: OutgoingMessage) -> None:
        """Send the message or raise `DeliveryError`."""
        ...
