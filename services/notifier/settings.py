"""The notifier's settings (prefix `BPM_NOTIFIER_`).

The SMTP server is shared configuration of the platform, so `smtp_url` is read
from `BPM_NOTIFIER_SMTP_URL` or, when that is not set, from `BPM_SMTP_URL`; it is the
built-in `email` channel. Chat channels are configured per organisation through
`/api/v1/channels`, not here.

Outbound HTTP of the chat channels goes through Apprise, which sends with `requests`:
a company's egress proxy and its TLS-inspecting CA are configured with the standard
process environment `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` and `REQUESTS_CA_BUNDLE`
(requests reads them on every send; Apprise gives no per-call proxy option).
"""

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bpm_common.settings import ServiceSettings

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
    delivery_retry_jitter: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of each retry delay drawn at random (0: none, 1: all of it).",
    )
    delivery_rate_limited_delay: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Least wait after a 429 answer (Apprise does not surface the Retry-After header)."
        ),
    )
    delivery_lease: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Seconds a claimed delivery is reserved for its sender; after that another "
            "replica may try it again (the sender died)."
        ),
    )
    chat_timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds per chat or webhook HTTP request."
    )
    email_rate_per_minute: int | None = Field(
        default=None, ge=1, description="Messages per minute on the built-in email channel."
    )
    secrets_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key that encrypts the stored secret parts of channel configurations (any string; "
            "derived from BPM_JWT_SECRET with HKDF when unset)."
        ),
    )
    action_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key that signs the approve/reject links of chat messages (derived from "
            "BPM_JWT_SECRET with HKDF when unset; without either, chat messages carry no actions)."
        ),
    )
    action_link_ttl: float = Field(
        default=72 * 3600.0, gt=0, description="Seconds an approve/reject link stays valid."
    )
    gateway_url: str | None = Field(
        default=None,
        description=(
            "Where the notifier completes tasks for approve/reject links (default: BPM_PUBLIC_URL)."
        ),
    )
    gateway_timeout: float = Field(default=10.0, gt=0, le=120)
    stream_heartbeat: float = Field(
        default=15.0, gt=0, description="Seconds between keep-alive comments on the event stream."
    )
    stream_backlog: int = Field(
        default=200, ge=1, le=5000, description="Notifications replayed after Last-Event-ID."
    )
    digest_poll_interval: float = Field(
        default=60.0, gt=0, description="Seconds between looks for digests that are due."
    )
