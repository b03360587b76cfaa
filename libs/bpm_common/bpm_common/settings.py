"""Settings: one pydantic-settings base, one environment prefix per service.

Shared settings are read from `BPM_*` (for example `BPM_DATABASE_URL`,
`BPM_NATS_URL`, `BPM_JWT_SECRET`); each service adds its own under its prefix
(`BPM_RUNTIME_PORT`, `BPM_DESIGNER_DATABASE_URL`, ...). A service-specific
variable wins over the shared one.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url


class CommonSettings(BaseSettings):
    """Settings every service shares (prefix `BPM_`)."""

    model_config = SettingsConfigDict(env_prefix="BPM_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL server URL; each service uses its own database on it.",
    )
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL(s), comma separated.")
    event_namespace: str = Field(
        default="bpm",
        pattern=r"^[a-z][a-z0-9_]{0,30}$",
        description="First token of every event subject and prefix of stream names.",
    )
    jwt_secret: SecretStr | None = Field(default=None, description="HS256 key of the built-in token issuer.")
    jwt_issuer: str = "bpm-platform"
    jwt_audience: str = "bpm-platform"
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_public_key: str | None = Field(default=None, description="PEM public key for RS256 tokens.")
    oidc_username_claim: str = "preferred_username"
    oidc_roles_claim: str = "roles"
    log_level: str = "INFO"
    log_json: bool = True
    access_log: bool = True
    workers_enabled: bool = Field(
        default=True, description="Run background workers (outbox relay, consumers, jobs)."
    )
    public_url: str = Field(default="http://127.0.0.1:8000", description="Gateway URL users reach.")
    direct_routes: bool = Field(
        default=True,
        description="Answer a service's busiest endpoints without FastAPI's router and dependency "
        "solver (`bpm_common.direct`); false sends every call the ordinary way.",
    )


class ServiceSettings(BaseSettings):
    """Base of each service's settings. Subclasses set `env_prefix` and the defaults."""

    model_config = SettingsConfigDict(env_prefix="BPM_SERVICE_", extra="ignore")

    service_name: str = "service"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str | None = Field(default=None, description="Overrides the shared server URL.")
    database_name: str = "bpm_service"
    #: connections kept open; a request holds one for its unit of work, so this should cover the
    #: concurrent requests plus the background workers (new connections cost a handshake and
    #: re-preparing every statement)
    db_pool_size: int = 24
    db_max_overflow: int = 8

    common: CommonSettings = Field(default_factory=CommonSettings, exclude=True)

    def sqlalchemy_url(self) -> URL:
        """The asyncpg URL of this service's own database."""
        raw = self.database_url or self.common.database_url
        if not raw:
            raise RuntimeError(
                "no database configured: set BPM_DATABASE_URL (or run `make run`, which starts "
                "an embedded PostgreSQL)"
            )
        url = make_url(raw)
        url = url.set(drivername="postgresql+asyncpg")
        if not self.database_url:
            url = url.set(database=self.database_name)
        return url
