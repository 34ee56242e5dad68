"""`hearth schema`: print the GraphQL SDL, or check that a file equals it."""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path
from typing import Any

from api import app
from api.cli.common import CliError
from api.settings import Settings


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "schema",
        help="Print the GraphQL schema (SDL), or check a file against it.",
        description="Without options, print the SDL. With --check FILE, fail if FILE differs.",
    )
    parser.add_argument("--check", type=Path, metavar="FILE", help="e.g. schema.graphql")
    parser.add_argument("--write", type=Path, metavar="FILE", help="Write the SDL to FILE.")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace, settings: Settings) -> int:
    sdl = app.schema_sdl_text() + "\n"
    if args.write:
        args.write.write_text(sdl, encoding="utf-8")
        return 0
    if args.check is None:
        print(sdl, end="")
        return 0
    current = args.check.read_text(encoding="utf-8") if args.check.exists() else ""
    if current != sdl:
        diff = difflib.unified_diff(
            current.splitlines(), sdl.splitlines(), str(args.check), "exported", lineterm=""
        )
        print("\n".join(diff))
        raise CliError(
            f"{args.check} differs from the exported schema; "
            f"run 'hearth schema --write {args.check}'."
        )
    print(f"{args.check} matches the exported schema.")
    return 0
