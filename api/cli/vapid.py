"""`hearth vapid-keys`: a new VAPID key pair for Web Push reminders."""

from __future__ import annotations

import argparse
from typing import Any

from api import app
from api.settings import Settings


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "vapid-keys",
        help="Print a new VAPID key pair for Web Push, as environment variables.",
        description="Keep the private key with the server's other secrets (the worker sends "
        "with it); apps subscribe with the public key (GraphQL: pushApplicationServerKey). A "
        "new pair invalidates every existing subscription: generate once per installation.",
    )
    parser.set_defaults(handler=_generate)


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    private, public = app.new_vapid_keys()
    print(f"HEARTH_VAPID_PRIVATE_KEY={private}")
    print(f"HEARTH_VAPID_PUBLIC_KEY={public}")
    return 0
