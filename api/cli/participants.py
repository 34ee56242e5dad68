"""`hearth participants`: operator actions on participants (erasure under a legal basis)."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

from api import app
from api.cli.common import CliError, operator_context
from api.relay import from_global_id
from api.settings import Settings
from domain.errors import DomainError
from domain.ids import ParticipantId
from domain.services import contacts


def register(commands: Any) -> None:
    group = commands.add_parser("participants", help="Operator actions on participants.")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    erase = actions.add_parser(
        "erase",
        help="Crypto-shred a participant's personal data, recording the legal basis.",
        description="Destroys the participant's data key: their direct identifiers and free "
        "text become unreadable for good. Pseudonymous study data stays; the audit chain "
        "still verifies. This cannot be undone.",
    )
    erase.add_argument("participant", help="participant id (global id or UUID)")
    erase.add_argument("--legal-basis", required=True, help="e.g. 'GDPR Art. 17(1)(b), ref 114'")
    erase.set_defaults(handler=_erase)


def _participant_id(raw: str) -> ParticipantId:
    try:
        return ParticipantId(uuid.UUID(raw))
    except ValueError:
        try:
            return ParticipantId(from_global_id(raw, "Participant")[1])
        except DomainError as error:
            raise CliError(f"Not a participant id: {raw}") from error


def _erase(args: argparse.Namespace, settings: Settings) -> int:
    participant_id = _participant_id(args.participant)
    with app.database(settings, migrate=False) as ready:
        asyncio.run(_run(ready, participant_id, args.legal_basis))
    print(
        f"Participant {participant_id}: personal data erased; the decision is in the audit trail."
    )
    return 0


async def _run(settings: Settings, participant_id: ParticipantId, basis: str) -> None:
    runtime = app.build_runtime(settings)
    try:
        await contacts.erase_participant(
            uow=runtime.services.uow(),
            ctx=operator_context("participants erase"),
            participant_id=participant_id,
            legal_basis=basis,
        )
    except DomainError as error:
        raise CliError(error.message) from error
    finally:
        await runtime.close()
