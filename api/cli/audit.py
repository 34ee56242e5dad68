"""`hearth audit`: verify the tamper-evident logs, sequence and seal them, export the trail."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from api import app
from api import logging as hearth_logging
from api.cli import proofs
from api.cli.common import CliError, operator_context
from api.cli.proofs import with_runtime
from api.settings import Settings
from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.pagination import MAX_PAGE_SIZE, PageRequest
from domain.services import trail
from domain.trail import TrailEvent, TrailQuery


def register(commands: Any) -> None:
    audit = commands.add_parser(
        "audit", help="Verify, sequence, seal, prove and export the audit logs."
    )
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="Check every log, checkpoint, personal value and audited record.",
        description="Exit status 0 if everything checks out, 1 if anything does not (each "
        "problem names its log and position, or its record). Checkpoints in the checkpoint "
        "directory and in HEARTH_TRUSTED_CHECKPOINTS are always checked against too.",
    )
    verify.add_argument(
        "--trusted",
        type=Path,
        action="append",
        default=[],
        metavar="FILE|DIR",
        help="a checkpoint file or a directory of them, kept outside the database: prove "
        "that today's log extends them (may be given more than once)",
    )
    verify.set_defaults(handler=_verify)
    checkpoint = actions.add_parser(
        "checkpoint",
        help="Sequence what is queued and seal a signed checkpoint for every log with new events.",
    )
    checkpoint.set_defaults(handler=_checkpoint)
    integrate = actions.add_parser(
        "integrate",
        help="Sequence queued events into their logs and seal them (what the worker runs).",
        description="Once, or with --follow until stopped (SIGINT/SIGTERM), sealing what is "
        "left before it exits. A second integrator waits until the first one stops.",
    )
    integrate.add_argument("--follow", action="store_true", help="keep running")
    integrate.set_defaults(handler=_integrate)
    proofs.register(actions)
    export = actions.add_parser(
        "export",
        help="Write the trail as JSON lines (personal values withheld), oldest first.",
        description="Filters combine with AND. Times are ISO 8601 with an offset.",
    )
    export.add_argument("--participant", type=uuid.UUID, help="participant UUID")
    export.add_argument("--study", type=uuid.UUID, help="study UUID")
    export.add_argument("--entity-type", help="e.g. Participant")
    export.add_argument("--entity", type=uuid.UUID, help="entity UUID")
    export.add_argument("--field", help="e.g. screening_number")
    export.add_argument("--actor", type=uuid.UUID, help="actor UUID")
    export.add_argument("--since", type=datetime.fromisoformat, help="inclusive")
    export.add_argument("--until", type=datetime.fromisoformat, help="exclusive")
    export.set_defaults(handler=_export)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    trusted = tuple(args.trusted)
    with app.database(settings, migrate=False) as ready:
        report = asyncio.run(with_runtime(ready, lambda r: r.verify_audit(trusted)))
    if not report.ok:
        print(f"FAILED: {len(report.problems)} problem(s)")
        for problem in report.problems:
            print(f"  {_where(problem)}: {problem.reason}")
        print(f"({report.events} events checked, in {report.seconds:.2f} s)")
        return 1
    print(
        f"OK: {len(report.logs)} logs, {report.events} events, {report.checkpoints} signed "
        f"checkpoints ({sum(r.trusted for r in report.logs)} trusted copies), "
        f"{report.sealed_values} sealed values ({report.redacted} redacted, "
        f"{report.erased} erased), {report.records} records verified in {report.seconds:.2f} s."
    )
    for log in report.logs:
        print(f"  {log.origin}: {_state(log)}")
    return 0


def _where(problem: app.AuditProblem) -> str:
    if not problem.log:
        return "record" if problem.position is None else f"position {problem.position}"
    if problem.position is None:
        return problem.log
    return f"{problem.log} at position {problem.position}"


def _state(log: Any) -> str:
    parts = [f"{log.events} events", f"head {log.head.hex()[:16]}"]
    parts.append(
        "all in a signed checkpoint"
        if log.unsealed == 0
        else f"{log.unsealed} not yet in a signed checkpoint"
    )
    if log.pending:
        parts.append(f"{log.pending} written but not yet sequenced")
    return ", ".join(parts)


def _checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    with app.database(settings, migrate=False) as ready:
        sealed = asyncio.run(with_runtime(ready, lambda r: r.seal_checkpoints()))
    if not sealed:
        print("Nothing new since the last checkpoints.")
        return 0
    for checkpoint in sealed:
        print(f"Checkpoint over {checkpoint.tree_size} events: root {checkpoint.root_hash.hex()}")
        print(checkpoint.note, end="")
    return 0


def _integrate(args: argparse.Namespace, settings: Settings) -> int:
    with app.database(settings, migrate=False) as ready:
        if args.follow:
            hearth_logging.configure(ready.log_level)
            asyncio.run(with_runtime(ready, _follow))
            return 0
        done = asyncio.run(with_runtime(ready, lambda r: r.log.integrate()))
    print(f"Sequenced {done.sequenced} events; sealed {len(done.sealed)} checkpoints.")
    return 0


async def _follow(runtime: app.Runtime) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(stop_signal, stop.set)
    integrator = await runtime.log.integrator()
    print("Integrating the audit logs (stop with Ctrl-C: what is left gets sealed).", flush=True)
    await integrator.run(stop)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    query = TrailQuery(
        participant_id=args.participant,
        study_id=args.study,
        entity_type=args.entity_type,
        entity_id=args.entity,
        field=args.field,
        actor_id=args.actor,
        since=args.since,
        until=args.until,
    )
    for moment in (args.since, args.until):
        if moment is not None and moment.tzinfo is None:
            raise CliError("Give --since/--until with an offset, e.g. 2026-11-01T00:00:00+00:00.")
    with app.database(settings, migrate=False) as ready:
        asyncio.run(with_runtime(ready, lambda r: _write_trail(r, query)))
    return 0


def _auditor() -> RequestContext:
    # Exports run with an administrator's view: the whole trail, participants' personal
    # values withheld (administrators may not read identifiers).
    base = operator_context("audit export")
    auditor = Actor(kind=ActorKind.SYSTEM, id=base.actor.id, grants=(Grant(Role.ADMIN),))
    return RequestContext(actor=auditor, origin=base.origin)


async def _write_trail(runtime: app.Runtime, query: TrailQuery) -> None:
    after: tuple[str, ...] | None = None
    while True:
        page = await trail.audit_trail(
            uow=runtime.services.uow(),
            ctx=_auditor(),
            query=query,
            request=PageRequest(first=MAX_PAGE_SIZE, after=after),
        )
        for event in page.items:
            sys.stdout.write(json.dumps(_line(event), default=str) + "\n")
        if not page.has_next_page or not page.items:
            return
        after = (str(page.items[-1].order),)


def _line(event: TrailEvent) -> dict[str, object]:
    return {
        "log": event.log,
        "position": event.position,
        "id": event.id,
        "recordedAt": event.recorded_at.isoformat(),
        "actor": {"kind": event.actor_kind, "id": event.actor_id, "role": event.actor_role},
        "studyId": event.study_id,
        "siteId": event.site_id,
        "participantId": event.participant_id,
        "entityType": event.entity_type,
        "entityId": event.entity_id,
        "action": event.action,
        "changes": [
            {"field": f.field, "old": f.old.__dict__, "new": f.new.__dict__} for f in event.fields
        ],
        "reason": event.reason.__dict__ if event.reason else None,
        "origin": event.origin,
        "hash": event.hash,
    }
