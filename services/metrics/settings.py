from pydantic import Field
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
