"""The designer's settings (environment prefix `BPM_DESIGNER_`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bpm_common.settings import ServiceSettings


class DesignerSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="BPM_DESIGNER_", extra="ignore", populate_by_name=True
    )

    service_name: str = "designer"
    port: int = 8001
    database_name: str = "bpm_designer"

    max_bpmn_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        description="Largest BPMN document accepted (bytes), checked before parsing.",
    )
    max_bpmn_depth: int = Field(
        default=100, ge=10, le=1000, description="Deepest element nesting accepted."
    )
    max_import_bytes: int = Field(
        default=2 * 1024 * 1024, ge=1024, description="Largest CSV file the org import accepts."
    )
    max_attachment_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest form attachment accepted (bytes)."
    )
    attachment_types: list[str] = Field(
        default=[
            "application/pdf",
            "image/png",
            "image/jpeg",
            "image/gif",
            "text/plain",
            "application/zip",
        ],
        description="Media types accepted as form attachments, recognised from the content.",
    )
    seed_demo: bool = Field(
        default=False,
        description="Create the demo organisation and publish the demo process on start.",
    )
    demo_password: SecretStr = Field(
        default=SecretStr("demo"),
        validation_alias=AliasChoices(
            "BPM_DEMO_PASSWORD", "BPM_DESIGNER_DEMO_PASSWORD", "demo_password"
        ),
        description="Password the demo users get when they have none yet (only with seed_demo).",
    )
    password_scrypt_n: int = Field(
        default=2**15,
        ge=2**10,
        le=2**20,
        description="scrypt CPU/memory cost of new password hashes (a power of two).",
    )
