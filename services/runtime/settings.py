from pydantic_settings import SettingsConfigDict

from bpm_common.settings import ServiceSettings


class RuntimeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BPM_RUNTIME_", extra="ignore")

    service_name: str = "runtime"
    port: int = 8002
    database_name: str = "bpm_runtime"
    event_ack_wait: float = 30.0
