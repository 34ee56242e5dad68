"""`hearth audit prove` and `hearth audit logs`: proofs anyone can check, and the logs' keys.

A proof is printed as JSON with the signed checkpoint it is against, so it can be checked
with the log's verifier key alone (RFC 6962 / RFC 9162 verification; base64 hashes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from api import app
from api.cli.common import CliError
from api.settings import Settings

LOG_HELP = "installation, legacy, a study's code or id, or a log's origin line"


def register(actions: Any) -> None:
    prove = actions.add_parser("prove", help="Print an inclusion or consistency proof (JSON).")
    kinds = prove.add_subparsers(dest="proof", required=True, metavar="PROOF")
    inclusion = kinds.add_parser(
        "inclusion", help="Prove that the event at a position is in a signed checkpoint."
    )
    inclusion.add_argument("--log", required=True, help=LOG_HELP)
    inclusion.add_argument("--position", type=int, required=True, help="from 1")
    inclusion.add_argument("--size", type=int, help="checkpoint size (default: the newest)")
    inclusion.set_defaults(handler=_inclusion)
    consistency = kinds.add_parser(
        "consistency", help="Prove that a newer checkpoint extends an older one."
    )
    consistency.add_argument("--log", required=True, help=LOG_HELP)
    consistency.add_argument("--from", dest="old", type=int, required=True, help="older size")
    consistency.add_argument("--to", dest="new", type=int, help="newer size (default: newest)")
    consistency.set_defaults(handler=_consistency)
    logs = actions.add_parser(
        "logs", help="List the logs: size, what is sealed and queued, and each verifier key."
    )
    logs.set_defaults(handler=_logs)


def _inclusion(args: argparse.Namespace, settings: Settings) -> int:
    async def prove(runtime: app.Runtime) -> app.InclusionProof:
        log = await runtime.log.log(args.log)
        return await runtime.log.prove_inclusion(log, args.position, args.size)

    return _print(settings, prove)


def _consistency(args: argparse.Namespace, settings: Settings) -> int:
    async def prove(runtime: app.Runtime) -> app.ConsistencyProof:
        log = await runtime.log.log(args.log)
        return await runtime.log.prove_consistency(log, args.old, args.new)

    return _print(settings, prove)


def _print(settings: Settings, prove: Any) -> int:
    with app.database(settings, migrate=False) as ready:
        try:
            proof = asyncio.run(with_runtime(ready, prove))
        except app.ProofError as error:
            raise CliError(str(error)) from None
    print(json.dumps(proof.document(), indent=2))
    return 0 if proof.verifies() else 1


async def with_runtime(settings: Settings, action: Any) -> Any:
    """Run `action(runtime)` on a runtime built for this command, closed afterwards."""
    runtime = app.build_runtime(settings)
    try:
        return await action(runtime)
    finally:
        await runtime.close()


def _logs(args: argparse.Namespace, settings: Settings) -> int:
    with app.database(settings, migrate=False) as ready:
        found = asyncio.run(with_runtime(ready, lambda r: r.log.logs()))
    for status in found:
        print(status.log.origin)
        print(
            f"  {status.size} events, {status.sealed} in a signed checkpoint, "
            f"{status.pending} queued"
        )
        print(f"  verifier key: {status.verifier_key}")
    return 0
