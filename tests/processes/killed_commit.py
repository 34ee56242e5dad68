"""Requests an export and is killed (SIGKILL) right before or right after its commit.

Run as `python -m tests.processes.killed_commit STUDY_ID before|after` with the usual
environment (DATABASE_URL, HEARTH_KEY_FILE). Nothing after the kill runs: not the rest of
the use case, not the unit of work's cleanup, not the process's exit handlers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid

from sqlalchemy import event
from sqlalchemy.orm import Session

from api.app import build_runtime
from api.settings import Settings
from domain.exports import ExportFormat
from domain.ids import StudyId
from domain.services import exports
from tests.factories import admin, caller


def _die(session: Session) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def main(study_id: str, moment: str) -> None:
    runtime = build_runtime(Settings())
    event.listen(Session, "before_commit" if moment == "before" else "after_commit", _die)
    await exports.start(
        uow=runtime.services.uow(),
        ctx=caller(admin()),
        study_id=StudyId(uuid.UUID(study_id)),
        format=ExportFormat.SDTM,
    )
    raise SystemExit("still alive after the commit")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
