"""Which sender serves a delivery: the built-in email channel, or a channel config's sender.

Config senders are built from the decrypted URL and kept while the config's sealed URL is
unchanged, so a changed URL takes effect with the next delivery on every replica.
"""

from __future__ import annotations

import uuid

from services.notifier.channels.crypto import SecretBox
from services.notifier.deliveries.models import ChannelKind
from services.notifier.deliveries.senders.base import ChannelSender, DeliveryError
from services.notifier.deliveries.senders.chat import AppriseSender
from services.notifier.deliveries.senders.email import EmailSender, SmtpConfig, SmtpUrlError
from services.notifier.settings import NotifierSettings

_CACHE_SIZE = 256


def builtin_email(settings: NotifierSettings) -> EmailSender | None:
    """The `email` channel of `BPM_SMTP_URL`, or None when unset.

    Raises `ValueError` for an unusable URL, naming the setting but never its value.
    """
    raw = settings.smtp_url.get_secret_value().strip() if settings.smtp_url else ""
    if not raw:
        return None
    try:
        config = SmtpConfig.parse(raw, timeout=settings.smtp_timeout)
    except SmtpUrlError as exc:
        raise ValueError(f"BPM_SMTP_URL / BPM_NOTIFIER_SMTP_URL: {exc}") from None
    return EmailSender(config)


class SenderRegistry:
    def __init__(self, settings: NotifierSettings, box: SecretBox) -> None:
        self.settings, self.box = settings, box
        self.email = builtin_email(settings)
        self._configs: dict[uuid.UUID, tuple[str, ChannelSender]] = {}

    def for_config(self, config_id: uuid.UUID, kind: str, sealed_url: str) -> ChannelSender:
        """The sender of a channel config; `DeliveryError` (permanent) when it is unusable."""
        cached = self._configs.get(config_id)
        if cached is not None and cached[0] == sealed_url:
            return cached[1]
        try:
            url = self.box.open(sealed_url)
        except ValueError as exc:
            raise DeliveryError(
                f"the channel's URL cannot be read: {exc}", permanent=True
            ) from None
        sender = self._build(ChannelKind(kind), url)
        if len(self._configs) >= _CACHE_SIZE:
            self._configs.clear()
        self._configs[config_id] = (sealed_url, sender)
        return sender

    def _build(self, kind: ChannelKind, url: str) -> ChannelSender:
        if kind is ChannelKind.EMAIL:
            try:
                return EmailSender(SmtpConfig.parse(url, timeout=self.settings.smtp_timeout))
            except SmtpUrlError as exc:
                raise DeliveryError(str(exc), permanent=True) from None
        return AppriseSender(kind, url, timeout=self.settings.chat_timeout)
