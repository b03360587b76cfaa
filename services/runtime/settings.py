import ipaddress

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bpm_common.settings import ServiceSettings


class RuntimeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BPM_RUNTIME_", extra="ignore")

    service_name: str = "runtime"
    port: int = 8002
    database_name: str = "bpm_runtime"
    event_ack_wait: float = 30.0
    http_denied_networks: list[str] = Field(
        default=[
            "169.254.0.0/16",  # link-local: the cloud metadata services (AWS, GCP, Azure, Tencent)
            "100.100.100.200/32",  # Alibaba Cloud's metadata service
            "fd00:ec2::254/128",  # AWS's metadata service over IPv6
            "fe80::/10",
            "0.0.0.0/8",
            "::/128",
            "224.0.0.0/4",
            "ff00::/8",
        ],
        description="Networks the HTTP connector (`bpm:http` tasks) refuses to call, checked on every "
        "address the host resolves to, redirects included. Add 127.0.0.0/8 or private ranges to keep "
        "processes away from internal services; 0.0.0.0/0 and ::/0 close it altogether.",
    )

    history_key: SecretStr | None = Field(
        default=None,
        description="Secret that signs the instances' history entries (HMAC-SHA256 of each entry and "
        "the one before it): who can change the database but does not know it cannot rewrite the "
        "history unseen. Derived from BPM_JWT_SECRET with HKDF when unset; the runtime does not start "
        "without either. Give it its own value in production, so the token key can be rotated alone.",
    )
    history_retired_keys: list[SecretStr] = Field(
        default=[],
        description="Secrets that signed history entries before the current one (JSON list): entries "
        "keep the id of the key that signed them and are verified with it. When you change "
        "BPM_RUNTIME_HISTORY_KEY (or, without it, BPM_JWT_SECRET), put the old value here.",
    )

    @field_validator("history_retired_keys")
    @classmethod
    def _no_blank_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        if any(not key.get_secret_value().strip() for key in value):
            raise ValueError("a retired history key may not be empty: its key would be anyone's")
        return value

    @field_validator("http_denied_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # a ValueError names the one at fault
        return value
