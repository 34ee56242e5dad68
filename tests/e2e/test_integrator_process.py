"""The integrator `hearth serve` starts: a process of its own that keeps the logs sealed and
seals what is left when it is stopped."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import text

from api.cli.integration import integrator_process, stop
from domain.services import studies
from tests.conftest import Scratch
from tests.factories import admin, caller
from tests.world import build_world


async def _count(scratch: Scratch, sql: str) -> int:
    async with scratch.runtime.engine.connect() as connection:
        return int(await connection.scalar(text(sql)) or 0)


async def test_the_child_process_sequences_seals_and_stops_cleanly(scratch: Scratch) -> None:
    world = await build_world(scratch.runtime.services.uow)
    env = dict(os.environ) | {
        "DATABASE_URL": scratch.owner_url,
        "HEARTH_KEY_FILE": str(scratch.settings.key_path),
        "HEARTH_CHECKPOINT_DIR": str(scratch.settings.checkpoint_path),
    }
    with integrator_process(env) as child:
        for _ in range(300):  # the child process works on its own: poll the database
            if not await _count(scratch, "SELECT count(*) FROM audit_pending"):
                break
            await asyncio.sleep(0.1)
        await studies.create_site(
            uow=scratch.runtime.services.uow(),
            ctx=caller(admin()),
            study_id=world.study.id,
            code="LAST",
            name="Last",
            country="DE",
            timezone="Europe/Berlin",
        )
        assert stop(child) == 0
    sealed = await _count(
        scratch,
        f"SELECT max(tree_size) FROM audit_checkpoints WHERE log_id = '{world.study.id}'",
    )
    assert sealed == 9  # the last write too: sealed on the way out
    assert list(scratch.settings.checkpoint_path.rglob("9.checkpoint"))
