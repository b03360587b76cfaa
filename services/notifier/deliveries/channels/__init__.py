"""Delivery channels. `in_app` needs no sender (the inbox is the delivery); every other
channel has a sender, configured from the settings."""

from __future__ import annotations

from services.notifier.deliveries.channels.base import ChannelSender, DeliveryError, OutgoingMessage
from services.notifier.deliveries.channels.email import EmailSender, SmtpConfig, SmtpUrlError
from services.notifier.settings import NotifierSettings

__all__ = ["ChannelSender", "DeliveryError", "OutgoingMessage", "build_senders"]


def build_senders(settings: NotifierSettings) -> dict[str, ChannelSender]:
    """The senders of the channels configured in `settings`, by channel name.

    Raises `ValueError` for unusable settings, naming the setting but never its value.
    """
    senders: dict[str, ChannelSender] = {}
    if settings.smtp_url is not None and settings.smtp_url.get_secret_value().strip():
        try:
            config = SmtpConfig.parse(
                settings.smtp_url.get_secret_value(), timeout=settings.smtp_timeout
            )
        except SmtpUrlError as exc:
            raise ValueError(f"BPM_SMTP_URL / BPM_NOTIFIER_SMTP_URL: {exc}") from None
        senders[EmailSender.name] = EmailSender(config)
    return senders
