"""Configuration from environment variables, read once by the composition root."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob Hearth has. Environment variables are `HEARTH_<NAME>` unless noted."""

    model_config = SettingsConfigDict(env_prefix="HEARTH_", extra="ignore", populate_by_name=True)

    env: Environment = Environment.DEVELOPMENT
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "HEARTH_DATABASE_URL"),
        description="Schema owner's URL (migrations). Unset: start the embedded PostgreSQL.",
    )
    app_database_url: SecretStr | None = Field(
        default=None,
        description="URL the server uses; default: DATABASE_URL with the hearth_app role.",
    )
    app_database_password: SecretStr | None = Field(
        default=None, description="Password of the hearth_app role, if the server needs one."
    )
    data_dir: Path = Field(default=Path(".hearth"), description="Embedded database and key file.")
    key_file: Path | None = Field(default=None, description="Default: <data_dir>/keys.json")
    export_dir: Path | None = Field(default=None, description="Default: <data_dir>/exports")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: str = "INFO"
    db_pool_size: int = Field(default=10, ge=1, le=200)
    access_token_minutes: int = Field(default=15, ge=1, le=60)
    checkpoint_seconds: int = Field(
        default=300, ge=0, description="Seal a signed audit checkpoint this often; 0: never."
    )
    login_limit_per_ip: int = Field(default=30, ge=1, description="Sign-ins a minute per IP.")
    login_limit_per_account: int = Field(default=10, ge=1, description="Per 5 minutes.")
    enrol_limit_per_ip: int = Field(default=10, ge=1, description="Enrolments a minute per IP.")
    refresh_limit_per_ip: int = Field(default=120, ge=1, description="Refreshes a minute per IP.")
    write_limit_per_caller: int = Field(
        default=120, ge=1, description="Writes (mutations, uploads) a minute per signed-in caller."
    )
    write_limit_per_ip: int = Field(default=600, ge=1, description="Writes a minute per IP.")
    ingest_max_bytes: int = Field(
        default=32_000_000,
        ge=1024,
        description="Largest bulk upload, compressed and after decompression.",
    )
    export_concurrency: int = Field(
        default=1, ge=1, le=8, description="Exports run at once per process; more get SERVER_BUSY."
    )
    ingest_concurrency: int = Field(
        default=4, ge=1, description="Bulk uploads processed at once per worker; more get 429."
    )
    min_retention_years: int = Field(
        default=25,
        ge=1,
        le=100,
        description="Shortest retention a study may have, in years from its closure.",
    )
    max_query_depth: int = Field(default=12, ge=2)
    max_aliases: int = Field(default=20, ge=1)
    max_tokens: int = Field(default=3000, ge=100)
    max_batch_operations: int = Field(default=10, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def key_path(self) -> Path:
        return self.key_file or self.data_dir / "keys.json"

    @property
    def export_path(self) -> Path:
        return self.export_dir or self.data_dir / "exports"
