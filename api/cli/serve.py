"""`hearth serve`: prepare the database, then serve GraphQL with uvicorn."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import uvicorn

from api import app
from api import logging as hearth_logging
from api.cli.integration import integrator_process
from api.settings import Settings
from domain.services import users as user_cases


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="Run the GraphQL server (starts the embedded PostgreSQL if DATABASE_URL is unset).",
        description="Apply migrations, then serve GraphQL on http://HOST:PORT/graphql.",
    )
    parser.add_argument(
        "--host", help="Interface to listen on (default: HEARTH_HOST or 127.0.0.1)."
    )
    parser.add_argument("--port", type=int, help="Port (default: HEARTH_PORT or 8000).")
    parser.add_argument(
        "--workers", type=int, help="Worker processes (default: HEARTH_WORKERS or 1)."
    )
    parser.add_argument("--no-migrate", action="store_true", help="Do not apply migrations first.")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Settings) -> int:
    hearth_logging.configure(settings.log_level)
    updates = {k: v for k in ("host", "port", "workers") if (v := getattr(args, k)) is not None}
    settings = settings.model_copy(update=updates)
    with (
        app.database(settings, migrate=not args.no_migrate) as ready,
        integrator_process(),  # sequences and seals the audit logs until the server stops
    ):
        _banner(ready, asyncio.run(_administrators_exist(ready)))
        uvicorn.run(
            "api.app:app_from_environment",
            factory=True,
            host=ready.host,
            port=ready.port,
            workers=ready.workers,
            log_config=None,
            access_log=False,  # our middleware logs requests without query strings
            server_header=False,
        )
    return 0


async def _administrators_exist(settings: Settings) -> bool:
    runtime = app.build_runtime(settings)
    try:
        return await user_cases.administrators_exist(uow=runtime.services.uow())
    finally:
        await runtime.close()


def _banner(settings: Settings, has_admin: bool) -> None:
    where = "embedded PostgreSQL" if settings.embedded else "DATABASE_URL"
    lines = [
        f"Hearth is serving GraphQL at http://{settings.host}:{settings.port}/graphql ({where}).",
    ]
    if not settings.is_production:
        lines.append("Open that URL in a browser for the offline GraphQL console.")
    if has_admin:
        lines.append(
            'Sign in with: mutation { login(input: {email: "...", password: "..."}) { ... } }'
        )
    else:
        lines.append(
            "No administrator yet. In another terminal, in this directory, create one with:\n"
            "    hearth users create-admin --email you@example.org --name 'Your Name'\n"
            "then sign in with the `login` mutation and send 'Authorization: Bearer <token>'."
        )
    print("\n".join(lines), flush=True)
