"""The notifier's settings (prefix `BPM_NOTIFIER_`).

The SMTP server is shared configuration of the platform, so `smtp_url` is read
from `BPM_NOTIFIER_SMTP_URL` or, when that is not set, from `BPM_SMTP_URL`.
"""

from typing import Literal

from bpm_common.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

Locale = Literal["en", "zh-CN"]


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="BPM_NOTIFIER_", extra="ignore", populate_by_name=True
    )

    service_name: str = "notifier"
    port: int = 8003
    database_name: str = "bpm_notifier"
    event_ack_wait: float = 30.0

    smtp_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("BPM_NOTIFIER_SMTP_URL", "BPM_SMTP_URL", "smtp_url"),
        description=(
            "Outgoing mail server: "
            "`smtp://[user:pass@]host:port?from=bpm@example.com&starttls=false`, or `smtps://...` "
            "(TLS from the first byte). Optional query parameters: `name` (sender's display name), "
            "`starttls` (default: true when a user is given, else false), `verify` (check the "
            "server certificate, default true). Unset: no email is sent."
        ),
    )
    smtp_timeout: float = Field(
        default=15.0, gt=0, le=300, description="Seconds per SMTP network operation."
    )
    default_locale: Locale = Field(
        default="en", description="Language of notifications for people whose locale is unknown."
    )
    unknown_recipient_grace: float = Field(
        default=60.0,
        ge=0,
        description=(
            "Seconds an event naming a person not yet in the organisation copy is retried (their "
            "`org.user.upserted` may still be on its way) before the in-app notification is made "
            "without email."
        ),
    )
    delivery_batch_size: int = Field(default=50, ge=1, le=1000)
    delivery_concurrency: int = Field(
        default=4, ge=1, le=64, description="Messages sent at the same time."
    )
    delivery_poll_interval: float = Field(
        default=2.0, gt=0, description="Seconds between looks for due deliveries."
    )
    delivery_max_attempts: int = Field(default=6, ge=1, le=100)
    delivery_retry_base: float = Field(
        default=30.0, gt=0, description="Seconds before the first retry; doubles."
    )
    delivery_retry_max: float = Field(
        default=3600.0, gt=0, description="Longest wait between two attempts."
    )
    delivery_lease: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Seconds a claimed delivery is reserved for its sender; after that another "
            "replica may try it again (the sender died)."
        ),
    )
