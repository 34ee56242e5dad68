"""`hearth studies`: operator actions at the end of a study (retention, closure, purge)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from api import app
from api.cli.common import CliError, operator_context
from api.services import Services
from api.settings import Settings
from domain.actors import RequestContext
from domain.errors import DomainError
from domain.services import retention, studies
from domain.studies import Study

T = TypeVar("T")


def register(commands: Any) -> None:
    group = commands.add_parser("studies", help="Retention, closure and purge of a study.")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    _command(
        actions,
        "retention",
        _retention,
        help="Set how many years a study's records are kept after its closure.",
        description="Never below HEARTH_MIN_RETENTION_YEARS; the change and its reason are logged.",
    ).add_argument("--years", type=int, required=True, help="e.g. 25")
    _command(
        actions,
        "close",
        _close,
        help="Close a study: it collects nothing new, and its retention starts.",
        description="Refused while participants still take part or visits are still "
        "scheduled. Closing cannot be undone.",
    )
    _command(
        actions,
        "purge",
        _purge,
        help="Crypto-shred the personal data of a closed study once its retention has elapsed.",
        description="Destroys the data key of every participant of the study: identifiers and "
        "free text become unreadable for good; pseudonymous data and the audit chain stay "
        "verifiable. Refused before the retention ends (the message names the date). Safe to "
        "repeat; it cannot be undone.",
    )


def _command(
    actions: Any, name: str, handler: Callable[..., int], **texts: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, **texts)
    parser.add_argument("study", help="study code, e.g. HF-01")
    parser.add_argument("--reason", required=True, help="why; logged with the action")
    parser.set_defaults(handler=handler)
    return parser


def _retention(args: argparse.Namespace, settings: Settings) -> int:
    async def act(services: Services, ctx: RequestContext, study: Study) -> Study:
        return await retention.set_retention(
            uow=services.uow(),
            ctx=ctx,
            study_id=study.id,
            years=args.years,
            reason=args.reason,
            minimum_years=settings.min_retention_years,
        )

    done = _run(settings, args, act)
    print(f"Study {done.code}: records kept {done.retention_years} years after its closure.")
    return 0


def _close(args: argparse.Namespace, settings: Settings) -> int:
    async def act(services: Services, ctx: RequestContext, study: Study) -> Study:
        return await retention.close_study(
            uow=services.uow(), ctx=ctx, study_id=study.id, reason=args.reason
        )

    done = _run(settings, args, act)
    print(f"Study {done.code}: closed; it collects nothing new and its retention runs.")
    return 0


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    async def act(services: Services, ctx: RequestContext, study: Study) -> retention.Purge:
        return await retention.purge_study(
            uow=services.uow(),
            ctx=ctx,
            study_id=study.id,
            reason=args.reason,
            minimum_years=settings.min_retention_years,
        )

    done = _run(settings, args, act)
    print(
        f"Study {done.study.code}: personal data of {done.participants} participants is "
        f"unreadable ({done.shredded} shredded now); the purge is in the audit trail."
    )
    return 0


def _run(
    settings: Settings,
    args: argparse.Namespace,
    act: Callable[[Services, RequestContext, Study], Awaitable[T]],
) -> T:
    with app.database(settings, migrate=False) as ready:
        return asyncio.run(_act(ready, f"studies {args.action}", args.study, act))


async def _act(
    settings: Settings,
    command: str,
    code: str,
    act: Callable[[Services, RequestContext, Study], Awaitable[T]],
) -> T:
    runtime = app.build_runtime(settings)
    ctx = operator_context(command)
    try:
        study, _ = await studies.find_scope(uow=runtime.services.uow(), ctx=ctx, study_code=code)
        return await act(runtime.services, ctx, study)
    except DomainError as error:
        raise CliError(error.message) from error
    finally:
        await runtime.close()
