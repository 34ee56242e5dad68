"""What the settings mean for the parts the composition root builds: database URLs, the key
file, the audit log's configuration and persisted queries; and the one error an operator
gets when they cannot be used."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy.exc import ArgumentError

from api.persisted import PersistedQueryError, PersistedQueryStore, load_manifest
from api.settings import Settings
from infra.crypto.keys import KeyFileError, KeyFileProvider
from infra.db.engine import app_url
from infra.db.installation import KeysRefused
from infra.eventlog.service import LogConfig


class ConfigurationError(RuntimeError):
    """Hearth cannot start or act as configured; the message is one line for the operator.

    The CLI prints it and exits with status 2 (a key file that is malformed, readable by
    others or not this installation's is one of these)."""


# What the CLI prints as one line for the operator (exit status 2), never as a bug.
OPERATOR_ERRORS: tuple[type[Exception], ...] = (ConfigurationError, KeysRefused, KeyFileError)


def server_url(settings: Settings) -> str:
    if settings.app_database_url is not None:
        return settings.app_database_url.get_secret_value()
    if settings.database_url is None:
        raise ConfigurationError(
            "No database configured: set DATABASE_URL, or use 'hearth serve', which starts "
            "the embedded PostgreSQL."
        )
    password = settings.app_database_password
    url = app_url(
        settings.database_url.get_secret_value(), password.get_secret_value() if password else None
    )
    return url.render_as_string(hide_password=False)


def owner_url(settings: Settings) -> str:
    if settings.database_url is None:
        raise ConfigurationError("Set DATABASE_URL to the schema owner's connection.")
    return settings.database_url.get_secret_value()


@contextlib.contextmanager
def url_errors() -> Iterator[None]:
    """A database URL that cannot be used is a configuration error: one clear line."""
    try:
        yield
    except (ValueError, ArgumentError) as error:
        raise ConfigurationError(
            "DATABASE_URL (or HEARTH_APP_DATABASE_URL) is not a PostgreSQL URL such as "
            "postgresql://user@host:5432/database."
        ) from error


def key_file(settings: Settings) -> KeyFileProvider:
    # A missing key file gives new keys in memory only: `bind_keys` decides whether they may
    # be written (a new installation) or must be refused (one that already has data).
    try:
        return KeyFileProvider.open_or_new(settings.key_path)
    except KeyFileError as error:
        raise ConfigurationError(str(error)) from None


def log_config(settings: Settings) -> LogConfig:
    trusted = (settings.trusted_checkpoints,) if settings.trusted_checkpoints else ()
    return LogConfig(
        checkpoint_dir=settings.checkpoint_path,
        trusted=trusted,
        max_unsealed=timedelta(seconds=settings.checkpoint_seconds),
    )


def persisted_queries(settings: Settings) -> PersistedQueryStore:
    try:
        path = settings.persisted_queries_file
        registered = load_manifest(path) if path is not None else {}
        return PersistedQueryStore(settings.persisted_queries, registered)
    except PersistedQueryError as error:
        raise ConfigurationError(str(error)) from error


def check_configuration(settings: Settings) -> None:
    """What `hearth serve` checks before it starts anything: files the server will need."""
    persisted_queries(settings)
