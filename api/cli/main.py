"""`hearth`: run the server, migrate, manage users, inspect the schema. `--help` everywhere."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from api.app import OPERATOR_ERRORS
from api.cli import (
    audit,
    database,
    exports,
    keys,
    participants,
    schema,
    serve,
    studies,
    users,
    vapid,
    worker,
)
from api.cli.common import Exit, explain
from api.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hearth",
        description="Hearth: the backend for decentralised clinical trials.",
        epilog="Configuration comes from environment variables; see the README.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.register(commands)
    worker.register(commands)
    database.register(commands)
    users.register(commands)
    participants.register(commands)
    studies.register(commands)
    audit.register(commands)
    exports.register(commands)
    keys.register(commands)
    schema.register(commands)
    vapid.register(commands)
    version = commands.add_parser("version", help="Print Hearth's version.")
    version.set_defaults(handler=_version)
    return parser


def _version(args: argparse.Namespace, settings: Settings) -> int:
    print(f"hearth {metadata.version('hearth')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command. Whatever goes wrong ends in one line on stderr and an exit status
    (api/cli/common.py `Exit`), never a traceback: tracebacks may quote configuration."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args, Settings()))
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except Exception as error:
        message, status = explain(error, OPERATOR_ERRORS)
        print(f"hearth: {message}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
