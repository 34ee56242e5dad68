"""`hearth keys`: rotate the key-encryption key."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from api import app
from api.cli.common import operator_context
from api.settings import Settings
from domain.services import keys


def register(commands: Any) -> None:
    group = commands.add_parser("keys", help="Manage encryption keys.")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    rotate = actions.add_parser(
        "rotate",
        help="Make a new key-encryption key current and re-wrap every data key under it.",
        description="Data is not re-encrypted; old key-encryption keys stay in the key file "
        "so anything wrapped before still opens. The rotation is logged in the audit trail.",
    )
    rotate.set_defaults(handler=_rotate)


def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    with app.database(settings, migrate=False) as ready:
        done = asyncio.run(_run(ready))
    print(
        f"Key-encryption key {done.old_kek} -> {done.new_kek}; "
        f"{done.rewrapped} data keys re-wrapped."
    )
    return 0


async def _run(settings: Settings) -> keys.Rotation:
    runtime = app.build_runtime(settings)
    try:
        return await keys.rotate_keys(
            uow=runtime.services.uow(), ctx=operator_context("keys rotate")
        )
    finally:
        await runtime.close()
