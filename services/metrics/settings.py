"""Settings of the metrics service (environment prefix `BPM_METRICS_`)."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from bpm_common.settings import ServiceSettings


class MetricsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BPM_METRICS_", extra="ignore")

    service_name: str = "metrics"
    port: int = 8004
    database_name: str = "bpm_metrics"
    event_ack_wait: float = 30.0
    gauge_max_age_seconds: float = Field(
        default=5.0,
        ge=0.0,
        description="A scrape reuses business gauges read less than this many seconds ago.",
    )
    gauge_query_timeout_seconds: float = Field(
        default=2.0,
        gt=0.0,
        description="Longest a scrape waits for the business gauges before answering without them.",
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description=(
            "IANA time zone of the business: weeks of the weekly report start on its Mondays, "
            "and the business calendar uses it until an administrator sets another."
        ),
    )
    what_if_max_runs: int = Field(
        default=20_000, ge=1, description="Most simulation runs one what-if request may ask for."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value
