"""Operator tasks for the CLI: a ready database (DATABASE_URL's or the embedded one),
migrations, the schema's SDL, and the keys that sign and verify exports."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import SecretStr
from strawberry.printer import print_schema

from api.app.configuration import ConfigurationError, key_file, owner_url, url_errors
from api.app.runtime import build_runtime, report_sealed
from api.schema import build_schema
from api.settings import Settings
from domain.clock import Clock, SystemClock
from infra.crypto import signing
from infra.crypto.keys import KeyFileProvider, KeyProvider
from infra.db import legacy_identifiers, migrations, provision
from infra.db.embedded import EmbeddedPostgres, EmbeddedPostgresError
from infra.db.engine import create_engine, session_factory
from infra.db.legacy_identifiers import Converted
from infra.exports.engine import export_signing_key
from infra.exports.manifest import Verification, verify_export

EMBEDDED_DATABASE = "hearth"


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.data_dir / "postgres")


@contextlib.contextmanager
def database(settings: Settings, *, migrate: bool = True) -> Iterator[Settings]:
    """Settings pointing at a ready database: DATABASE_URL's, or the embedded one.

    An embedded server started here is stopped on exit; one that was already running
    (say, under `hearth serve` in another terminal) is left alone.
    """
    server = embedded_server(settings) if settings.embedded else None
    try:
        started = server.start() if server else False
    except EmbeddedPostgresError as error:
        raise ConfigurationError(str(error)) from error
    try:
        yield asyncio.run(_prepare(settings, server, migrate))
    finally:
        if server is not None and started:
            server.stop()


async def _prepare(settings: Settings, server: EmbeddedPostgres | None, migrate: bool) -> Settings:
    if server is not None:
        await provision.ensure_database(server.url(), EMBEDDED_DATABASE)
        url = provision.with_database(server.url(), EMBEDDED_DATABASE)
        os.environ["DATABASE_URL"] = url  # server workers and child commands inherit it
        settings = settings.model_copy(update={"database_url": SecretStr(url)})
    if migrate:
        await migrate_database(settings)
    return settings


async def migrate_database(settings: Settings, *, clock: Clock | None = None) -> Converted:
    """Apply migrations as the schema owner, then seal what earlier versions kept in the
    clear (the one step a migration cannot do: it needs the keys)."""
    with url_errors():
        engine = create_engine(owner_url(settings), pool_size=1)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()
    await _bind_keys(settings)  # before anything is sealed with them
    engine = create_engine(owner_url(settings), pool_size=1)
    try:
        converted = await legacy_identifiers.seal_legacy_identifiers(
            session_factory(engine),
            lambda: KeyFileProvider.open_or_create(settings.key_path),
            clock or SystemClock(),
        )
    finally:
        await engine.dispose()
    report_sealed(converted)
    return converted


async def _bind_keys(settings: Settings) -> None:
    """Before any command acts (and before the server starts): the keys must be this
    installation's. A database not migrated yet has nothing to bind to."""
    runtime = build_runtime(settings, owner=True)
    try:
        if await migrations.at_head(runtime.engine):
            await runtime.bind_keys()
    finally:
        await runtime.close()


def schema_sdl_text() -> str:
    """The SDL the code exports; `schema.graphql` must equal it."""
    return print_schema(build_schema(production=False))


def export_public_key(settings: Settings) -> str:
    """The PEM public key that verifies this installation's export manifests."""
    return signing.public_key_pem(export_signing_key(_existing_keys(settings)))


def verify_exported(
    directory: Path, settings: Settings, public_key_pem: str | None
) -> Verification:
    """Check an export directory against a trusted key: a PEM file's, else the key file's."""
    if public_key_pem is not None:
        try:
            key = serialization.load_pem_public_key(public_key_pem.encode())
        except ValueError as error:
            raise ConfigurationError("The public key file is not a PEM public key.") from error
        if not isinstance(key, Ed25519PublicKey):
            raise ConfigurationError("The public key is not an Ed25519 key.")
    else:
        key = export_signing_key(_existing_keys(settings)).public_key()
    return verify_export(directory, key)


def _existing_keys(settings: Settings) -> KeyProvider:
    if not settings.key_path.exists():
        raise ConfigurationError(
            f"No key file at {settings.key_path}: set HEARTH_KEY_FILE, or give --public-key."
        )
    return key_file(settings)
