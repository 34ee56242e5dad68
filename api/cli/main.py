"""`hearth`: run the server, migrate, manage users, inspect the schema. `--help` everywhere."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from api.app import ConfigurationError
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
)
from api.cli.common import CliError
from api.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hearth",
        description="Hearth: the backend for decentralised clinical trials.",
        epilog="Configuration comes from environment variables; see the README.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.register(commands)
    database.register(commands)
    users.register(commands)
    participants.register(commands)
    studies.register(commands)
    audit.register(commands)
    exports.register(commands)
    keys.register(commands)
    schema.register(commands)
    version = commands.add_parser("version", help="Print Hearth's version.")
    version.set_defaults(handler=_version)
    return parser


def _version(args: argparse.Namespace, settings: Settings) -> int:
    print(f"hearth {metadata.version('hearth')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args, Settings()))
    except KeyboardInterrupt:
        return 130
    except (CliError, ConfigurationError) as error:
        print(f"hearth: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
