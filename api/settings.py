"""Configuration from environment variables, read once by the composition root."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class PersistedQueries(StrEnum):
    OFF = "off"  # every request sends its query
    AUTOMATIC = "automatic"  # Automatic Persisted Queries: hashes learnt from the clients
    REGISTERED = "registered"  # only the operations in HEARTH_PERSISTED_QUERIES_FILE run


T = TypeVar("T")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
        default=60,
        ge=2,
        description="The longest an audit event may stay outside every signed checkpoint; "
        "`audit verify` fails beyond it. The integrator seals every second while events come.",
    )
    checkpoint_dir: Path | None = Field(
        default=None, description="Where sealed checkpoints are published: <data_dir>/checkpoints"
    )
    trusted_checkpoints: Path | None = Field(
        default=None,
        description="A checkpoint file or directory `audit verify` always checks the log against "
        "(your copy of the published checkpoints, kept where the database owner cannot write).",
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
    ingest_concurrency: int = Field(
        default=4, ge=1, description="Bulk uploads processed at once per worker; more get 429."
    )
    min_retention_years: int = Field(
        default=25,
        ge=1,
        le=100,
        description="Shortest retention a study may have, in years from its closure.",
    )
    diary_horizon_days: int = Field(
        default=28,
        ge=1,
        le=366,
        description="How many days ahead each participant's diary occurrences are planned.",
    )
    max_query_depth: int = Field(default=12, ge=2)
    max_aliases: int = Field(default=20, ge=1)
    max_tokens: int = Field(default=3000, ge=100)
    max_batch_operations: int = Field(default=10, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # The worker (`hearth worker`) and the job queue.
    worker_concurrency: int = Field(
        default=2,
        ge=1,
        le=32,
        description="Jobs a worker runs at once (an export holds a "
        "database connection while it runs).",
    )
    worker_shutdown_seconds: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM/SIGINT, how long running jobs may finish "
        "before they are released to the queue for another attempt.",
    )
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    worker_stalled_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A worker silent this long is gone: its running jobs "
        "are queued again, and readiness counts it out.",
    )
    worker_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Besides LISTEN/NOTIFY, how often a worker looks for "
        "due jobs (retries, cancellations).",
    )
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(
        default=9464, ge=0, le=65535, description="The worker's /metrics; 0: none."
    )
    export_retention_days: float = Field(
        default=30.0, gt=0, description="Files of finished exports older than this are deleted."
    )
    exports_per_study: int = Field(
        default=3,
        ge=1,
        description="Exports of one study queued or running at once; more get SERVER_BUSY.",
    )
    vapid_private_key: SecretStr | None = Field(
        default=None,
        description="Web Push VAPID private key: base64url raw key or a PEM file's path. "
        "Unset: no Web Push reminders.",
    )
    vapid_public_key: str | None = Field(
        default=None,
        description="The applicationServerKey (base64url) apps subscribe with; served by GraphQL.",
    )
    vapid_subject: str = Field(
        default="mailto:trials@example.org",
        description="VAPID contact: a mailto: or https: URL the push services may write to.",
    )
    smtp_host: str | None = Field(
        default=None, description="Unset: no e-mail reminders and no alert e-mails."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(default=True, description="STARTTLS before authenticating.")
    smtp_from: str = Field(default="trials@example.org", description="The e-mails' sender.")
    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks reach private, loopback and link-local addresses (receivers "
        "inside your own network); off, such endpoints fail every try with a reason.",
    )
    max_query_cost: int = Field(
        default=10_000, ge=1, description="Points one request may cost, counted before execution."
    )
    live_recheck_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Open subscriptions check their session and grants at least this often.",
    )
    live_init_seconds: float = Field(
        default=10.0, gt=0, description="A websocket must send connection_init within this."
    )
    read_limit_per_caller: int = Field(
        default=250_000, ge=1, description="Query cost points a minute per caller (or address)."
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks whose X-Forwarded-For is believed.",
    )
    cors_origins: str = Field(
        default="", description="Comma-separated origins (scheme://host[:port]) or '*'."
    )
    persisted_queries: PersistedQueries = PersistedQueries.AUTOMATIC
    # Alert e-mails to site staff (a count and a link, never who or what) use the SMTP
    # settings above; none without a host.
    console_url: str | None = Field(
        default=None, description="The staff console's address, linked from alert e-mails."
    )
    persisted_queries_file: Path | None = Field(
        default=None, description="Registered operations (an Apollo persisted query manifest)."
    )

    @field_validator("vapid_subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        if not value.startswith(("mailto:", "https://")):
            raise ValueError("the VAPID subject is a mailto: or https:// URL")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        _split(value, ipaddress.ip_network)  # raises ValueError naming the bad entry
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        _split(value, _origin)
        return value

    @property
    def trusted_networks(self) -> tuple[Network, ...]:
        return tuple(_split(self.trusted_proxies, ipaddress.ip_network))

    @property
    def allowed_origins(self) -> frozenset[str]:
        return frozenset(_split(self.cors_origins, _origin))

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

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint_dir or self.data_dir / "checkpoints"


def _split(value: str, parse: Callable[[str], T]) -> list[T]:
    return [parse(part.strip()) for part in value.split(",") if part.strip()]


def _origin(value: str) -> str:
    """An origin as browsers send it: scheme://host[:port], no path; or '*' for any."""
    if value == "*":
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("",):
        raise ValueError(f"{value!r} is not an origin like https://app.example.org")
    return f"{parts.scheme}://{parts.netloc}".lower()
