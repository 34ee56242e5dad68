"""`hearth migrate` and `hearth db`: schema migrations and the embedded server."""

from __future__ import annotations

import argparse
from typing import Any

from api import app
from api.settings import Settings


def register(commands: Any) -> None:
    migrate = commands.add_parser(
        "migrate",
        help="Apply database migrations as the schema owner (DATABASE_URL).",
        description="Upgrade the schema to the newest migration. Safe to run concurrently.",
    )
    migrate.set_defaults(handler=_migrate)
    db = commands.add_parser("db", help="Manage the embedded PostgreSQL.")
    actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    stop = actions.add_parser("stop", help="Stop the embedded PostgreSQL if it is running.")
    stop.set_defaults(handler=_stop)
    status = actions.add_parser("status", help="Say whether the embedded PostgreSQL runs.")
    status.set_defaults(handler=_status)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    with app.database(settings, migrate=True):
        print("Database schema is at the newest migration.")
    return 0


def _stop(args: argparse.Namespace, settings: Settings) -> int:
    app.embedded_server(settings).stop()
    print("Embedded PostgreSQL stopped.")
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    running = app.embedded_server(settings).running
    print("Embedded PostgreSQL is running." if running else "Embedded PostgreSQL is not running.")
    return 0
