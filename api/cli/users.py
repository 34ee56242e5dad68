"""`hearth users`: manage staff accounts from the server's shell."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from api import app
from api.cli.common import CliError, operator_context
from api.settings import Settings
from domain.actors import Grant, Role
from domain.errors import DomainError
from domain.services import users as cases


def register(commands: Any) -> None:
    users = commands.add_parser("users", help="Manage staff users.")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    admin = actions.add_parser(
        "create-admin",
        help="Create an administrator (how the first one is made).",
        description="Create an administrator. The password is asked for twice, or read "
        "from standard input with --password-stdin.",
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True, help="Printed name, as shown on signatures.")
    admin.add_argument(
        "--password-stdin", action="store_true", help="Read the password from stdin."
    )
    admin.set_defaults(handler=_create_admin)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Repeat the password: ") != first:
        raise CliError("The passwords do not match.")
    return first


def _create_admin(args: argparse.Namespace, settings: Settings) -> int:
    password = _read_password(args.password_stdin)
    with app.database(settings) as ready:
        asyncio.run(_create(ready, args.email, args.name, password))
    print("Administrator created. Sign in with the `login` mutation.")
    return 0


async def _create(settings: Settings, email: str, name: str, password: str) -> None:
    runtime = app.build_runtime(settings)
    try:
        await cases.create_staff_user(
            uow=runtime.services.uow(),
            passwords=runtime.services.passwords,
            ctx=operator_context("users create-admin"),
            email=email,
            name=name,
            password=password,
            grants=(Grant(Role.ADMIN),),
        )
    except DomainError as error:
        raise CliError(error.message) from error
    finally:
        await runtime.close()
