"""`hearth users`: manage staff accounts from the server's shell."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from api import app
from api.cli.common import CliError, operator_context
from api.settings import Settings
from domain.actors import Grant, Role
from domain.errors import DomainError
from domain.pagination import MAX_PAGE_SIZE, PageRequest
from domain.services import studies, users
from domain.users import StaffUser, UserStatus, check_new_password

T = TypeVar("T")
_PASSWORD_TRIES = 3
_STAFF_ROLES = [r.value for r in Role if r not in (Role.PARTICIPANT, Role.SYSTEM, Role.ANONYMOUS)]


def register(commands: Any) -> None:
    group = commands.add_parser("users", help="Manage staff users.")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    admin = actions.add_parser(
        "create-admin",
        help="Create an administrator (how the first one is made).",
        description="The password is asked for twice, or read from stdin with --password-stdin. "
        "At least 12 characters; common, breached or easily guessed passwords and ones built "
        "from the e-mail address or name are refused (asked again when typed).",
    )
    _identity(admin)
    admin.set_defaults(handler=_create_admin)
    create = actions.add_parser("create", help="Create a staff user with one role.")
    _identity(create)
    _role(create)
    create.set_defaults(handler=_create)
    for name, handler, text in (
        ("grant", _grant, "Give a user a role."),
        ("revoke", _revoke, "Take a role away from a user."),
    ):
        command = actions.add_parser(name, help=text)
        command.add_argument("email")
        _role(command)
        command.set_defaults(handler=handler)
    for name, status, text in (
        ("disable", UserStatus.DISABLED, "Disable an account; its sessions end at once."),
        ("enable", UserStatus.ACTIVE, "Enable a disabled account again."),
    ):
        command = actions.add_parser(name, help=text)
        command.add_argument("email")
        command.add_argument("--reason", required=True)
        command.set_defaults(handler=_set_status, status=status)
    listing = actions.add_parser("list", help="List staff users and their roles.")
    listing.set_defaults(handler=_list)


def _identity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", required=True, help="Printed name, as shown on signatures.")
    parser.add_argument(
        "--password-stdin", action="store_true", help="Read the password from stdin."
    )


def _role(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", required=True, choices=_STAFF_ROLES)
    parser.add_argument("--study", help="study code (data managers; sites' study)")
    parser.add_argument("--site", help="site code (coordinators, investigators, monitors)")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 12 characters, not a common one): ")
    if getpass.getpass("Repeat the password: ") != first:
        raise CliError("The passwords do not match.")
    return first


def _acceptable(runtime: app.Runtime, args: argparse.Namespace, password: str) -> str:
    """The password once it passes the rules; typed ones are asked for again, piped ones not."""
    for _ in range(_PASSWORD_TRIES - 1):
        problem = _problem(runtime, args, password)
        if problem is None:
            return password
        if args.password_stdin:
            raise problem
        print(f"{problem.message} Try another.", file=sys.stderr)
        password = _read_password(from_stdin=False)
    problem = _problem(runtime, args, password)
    if problem is not None:
        raise problem
    return password


def _problem(runtime: app.Runtime, args: argparse.Namespace, password: str) -> DomainError | None:
    try:
        check_new_password(
            password, email=args.email, name=args.name, screen=runtime.services.password_screen
        )
    except DomainError as error:
        return error
    return None


def _run(settings: Settings, action: Callable[[app.Runtime], Awaitable[T]]) -> T:
    async def go(ready: Settings) -> T:
        runtime = app.build_runtime(ready)
        try:
            return await action(runtime)
        except DomainError as error:
            raise CliError(error.message) from error
        finally:
            await runtime.close()

    with app.database(settings) as ready:
        return asyncio.run(go(ready))


async def _grant_of(runtime: app.Runtime, args: argparse.Namespace) -> Grant:
    role = Role(args.role)
    if not args.study:
        if args.site:
            raise CliError("Give the site's study too: --study CODE --site CODE.")
        return Grant(role)
    study, site = await studies.find_scope(
        uow=runtime.services.uow(),
        ctx=operator_context("users"),
        study_code=args.study,
        site_code=args.site,
    )
    return Grant(role, study.id, site.id if site else None)


def _create_admin(args: argparse.Namespace, settings: Settings) -> int:
    args.role, args.study, args.site = Role.ADMIN.value, None, None
    return _create(args, settings)


def _create(args: argparse.Namespace, settings: Settings) -> int:
    password = _read_password(args.password_stdin)

    async def create(runtime: app.Runtime) -> StaffUser:
        return await users.create_staff_user(
            uow=runtime.services.uow(),
            passwords=runtime.services.passwords,
            screen=runtime.services.password_screen,
            ctx=operator_context(f"users create {args.role}"),
            email=args.email,
            name=args.name,
            password=_acceptable(runtime, args, password),
            grants=(await _grant_of(runtime, args),),
        )

    user = _run(settings, create)
    print(f"Created {user.name} <{user.email}> as {args.role}. Sign in with the `login` mutation.")
    return 0


def _change_grants(args: argparse.Namespace, settings: Settings, *, add: bool) -> int:
    async def change(runtime: app.Runtime) -> StaffUser:
        ctx = operator_context("users grant" if add else "users revoke")
        user = await users.find_by_email(uow=runtime.services.uow(), ctx=ctx, email=args.email)
        grant = await _grant_of(runtime, args)
        return await users.set_grants(
            uow=runtime.services.uow(),
            ctx=ctx,
            user_id=user.id,
            add=(grant,) if add else (),
            remove=() if add else (grant,),
        )

    print(_describe(_run(settings, change)))
    return 0


def _grant(args: argparse.Namespace, settings: Settings) -> int:
    return _change_grants(args, settings, add=True)


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    return _change_grants(args, settings, add=False)


def _set_status(args: argparse.Namespace, settings: Settings) -> int:
    async def change(runtime: app.Runtime) -> StaffUser:
        ctx = operator_context(f"users {args.status.value.lower()}")
        user = await users.find_by_email(uow=runtime.services.uow(), ctx=ctx, email=args.email)
        return await users.set_status(
            uow=runtime.services.uow(),
            ctx=ctx,
            user_id=user.id,
            status=args.status,
            reason=args.reason,
        )

    print(_describe(_run(settings, change)))
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def listing(runtime: app.Runtime) -> list[StaffUser]:
        found: list[StaffUser] = []
        after: tuple[str, ...] | None = None
        while True:
            page = await users.page_users(
                uow=runtime.services.uow(),
                ctx=operator_context("users list"),
                request=PageRequest(first=MAX_PAGE_SIZE, after=after),
            )
            found += page.items
            if not page.has_next_page:
                return found
            after = (str(page.items[-1].id),)

    for user in _run(settings, listing):
        print(_describe(user))
    return 0


def _describe(user: StaffUser) -> str:
    roles = ", ".join(
        g.role.value
        + (f"@site:{g.site_id}" if g.site_id else f"@study:{g.study_id}" if g.study_id else "")
        for g in user.grants
    )
    return (
        f"{user.id}  {user.email:<32} {user.status.value:<8} {user.name}  [{roles or 'no roles'}]"
    )
