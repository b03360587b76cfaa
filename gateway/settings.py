"""Gateway settings (prefix `BPM_GATEWAY_`); shared values come from `BPM_*` via `common`."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bpm_common.settings import CommonSettings


class GatewaySettings(BaseSettings):
    """Read from `BPM_GATEWAY_*`; the rate limits apply per gateway replica (see ratelimit.py)."""

    model_config = SettingsConfigDict(env_prefix="BPM_GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000

    designer_url: str = "http://127.0.0.1:8001"
    runtime_url: str = "http://127.0.0.1:8002"
    notifier_url: str = "http://127.0.0.1:8003"
    metrics_url: str = "http://127.0.0.1:8004"

    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to call the API from browsers: comma separated or JSON list.",
    )
    token_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)

    rate_limit_per_second: float = Field(
        default=1000.0,
        gt=0,
        description="Sustained requests per second per user (per IP when anonymous).",
    )
    rate_limit_burst: int = Field(
        default=2000, ge=1, description="Requests a caller may make at once."
    )
    login_failures_per_minute: int = Field(
        default=10, ge=1, description="Failed logins allowed per username and client IP per minute."
    )
    token_cache_size: int = Field(
        default=10_000, ge=0, description="Verified tokens kept in memory."
    )
    revocation_poll_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How often to ask the designer service which users' earlier tokens no longer "
        "hold (deactivated or deleted, roles, department or password changed); 0: never (tokens "
        "then hold until they expire). Needs the built-in issuer (BPM_JWT_SECRET).",
    )
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    upstream_connect_timeout: float = Field(default=3.0, gt=0)
    upstream_read_timeout: float = Field(default=30.0, gt=0)
    upstream_max_connections: int = Field(default=256, ge=1)
    upstream_max_keepalive: int = Field(default=64, ge=0)
    upstream_keepalive_seconds: float = Field(
        default=4.0,
        gt=0,
        description="Idle time before a kept-alive connection is dropped; "
        "below the backends' own keep-alive timeout (uvicorn: 5 s).",
    )
    upstream_transport: Literal["aiohttp", "httpcore"] = Field(
        default="aiohttp",
        description="The HTTP layer under the httpx clients: `aiohttp` (httpx-aiohttp; about three "
        "times less CPU per proxied call on a 2-core machine) or `httpcore` (httpx's default).",
    )
    stream_max_connections: int = Field(
        default=1000, ge=1, description="Open Server-Sent-Event streams per backend."
    )
    readyz_timeout: float = Field(default=2.0, gt=0)
    openapi_timeout: float = Field(default=5.0, gt=0)

    common: CommonSettings = Field(default_factory=CommonSettings, exclude=True)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    def backend_urls(self) -> dict[str, tuple[str, ...]]:
        """Base URLs of each backend service, by service name. A setting may list several
        replicas, comma separated; the gateway then sends each call to the replica with the
        fewest calls in flight, taking turns among equals (on Kubernetes one Service URL is
        the usual choice)."""
        return {
            name: tuple(u.strip().rstrip("/") for u in value.split(",") if u.strip())
            for name, value in (
                ("designer", self.designer_url),
                ("runtime", self.runtime_url),
                ("notifier", self.notifier_url),
                ("metrics", self.metrics_url),
            )
        }
