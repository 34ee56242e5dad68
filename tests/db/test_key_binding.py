"""The key file is bound to its installation: a wrong or missing one is refused before
anything acts with it, and never silently replaced by new keys."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from api.app import ConfigurationError, build_runtime, create_app
from api.settings import Settings
from infra.crypto.keys import KeyFileProvider
from tests.clock import CLOCK
from tests.conftest import Scratch
from tests.db.test_tamper import superuser
from tests.world import build_world


def _elsewhere(scratch: Scratch, path: Path) -> Settings:
    return scratch.settings.model_copy(update={"key_file": path})


async def _bind(scratch: Scratch, path: Path) -> None:
    runtime = build_runtime(_elsewhere(scratch, path), clock=CLOCK)
    try:
        await runtime.bind_keys()
    finally:
        await runtime.close()


async def test_the_first_start_binds_its_keys_and_later_starts_check_them(
    scratch: Scratch,
) -> None:
    async with superuser(scratch) as connection:
        purposes = {
            r[0] for r in await connection.execute(text("SELECT purpose FROM installation_keys"))
        }
    assert purposes == {"root-secret", "checkpoint-signing"}
    await _bind(scratch, scratch.settings.key_path)  # the same file: fine, again and again
    assert await scratch.runtime.log.keys_ready()


async def test_a_missing_key_file_for_an_installation_is_refused_and_not_created(
    scratch: Scratch, tmp_path: Path
) -> None:
    wrong = tmp_path / "new" / "keys.json"
    with pytest.raises(ConfigurationError, match=r"No key file at .*this installation's keys"):
        await _bind(scratch, wrong)
    assert not wrong.exists()
    assert not wrong.parent.exists()


async def test_another_key_file_is_refused(scratch: Scratch, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    _another_key_file(other)
    with pytest.raises(ConfigurationError, match="holds other keys than this installation"):
        await _bind(scratch, other)


def _another_key_file(path: Path) -> None:
    KeyFileProvider.open_or_create(path)


async def test_an_installation_from_before_the_binding_binds_only_its_own_keys(
    scratch: Scratch, tmp_path: Path
) -> None:
    await build_world(scratch.runtime.services.uow)  # data keys wrapped with its KEK
    await scratch.runtime.seal_checkpoints()
    async with superuser(scratch) as connection:
        await connection.execute(text("DELETE FROM installation_keys"))
    other = tmp_path / "other.json"
    _another_key_file(other)
    with pytest.raises(ConfigurationError, match="lacks 1 key-encryption key"):
        await _bind(scratch, other)
    missing = tmp_path / "missing.json"
    with pytest.raises(ConfigurationError, match="the database already holds data"):
        await _bind(scratch, missing)
    assert not missing.exists()
    await _bind(scratch, scratch.settings.key_path)  # its own: bound now
    with pytest.raises(ConfigurationError):
        await _bind(scratch, other)


async def test_the_server_refuses_to_start_with_the_wrong_keys(
    scratch: Scratch, tmp_path: Path
) -> None:
    other = tmp_path / "other.json"
    _another_key_file(other)
    app = create_app(_elsewhere(scratch, other), clock=CLOCK)
    with pytest.raises(ConfigurationError):
        async with app.router.lifespan_context(app):
            pytest.fail("the server started")


async def test_readiness_reports_a_replaced_key_file(scratch: Scratch, tmp_path: Path) -> None:
    assert await scratch.runtime.log.keys_ready()
    kept = tmp_path / "kept.json"
    shutil.move(scratch.settings.key_path, kept)
    assert not await scratch.runtime.log.keys_ready()  # gone
    _another_key_file(scratch.settings.key_path)
    assert not await scratch.runtime.log.keys_ready()  # another one in its place
    shutil.move(kept, scratch.settings.key_path)
    assert await scratch.runtime.log.keys_ready()
