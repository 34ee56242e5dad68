"""`hearth audit`: verify the tamper-evident log, seal checkpoints, export the trail."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from datetime import datetime
from typing import Any

from api import app
from api.cli.common import CliError, operator_context
from api.settings import Settings
from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.pagination import MAX_PAGE_SIZE, PageRequest
from domain.services import trail
from domain.trail import TrailEvent, TrailQuery


def register(commands: Any) -> None:
    audit = commands.add_parser("audit", help="Verify, seal and export the audit trail.")
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify",
        help="Recompute chain, checkpoints and sealed values; name the first bad position.",
        description="Exit status 0 if the whole log checks out, 1 at the first problem.",
    )
    verify.set_defaults(handler=_verify)
    checkpoint = actions.add_parser(
        "checkpoint", help="Seal a signed checkpoint (Merkle root) over the log as it is now."
    )
    checkpoint.set_defaults(handler=_checkpoint)
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
    with app.database(settings, migrate=False) as ready:
        report = asyncio.run(_with_runtime(ready, lambda r: r.verify_audit()))
    if report.problem is not None:
        print(f"FAILED at position {report.problem.position}: {report.problem.reason}")
        print(f"({report.events} events checked before it, in {report.seconds:.2f} s)")
        return 1
    print(
        f"OK: {report.events} events, {report.checkpoints} signed checkpoints, "
        f"{report.sealed_values} sealed values ({report.redacted} redacted, "
        f"{report.erased} erased) verified in {report.seconds:.2f} s."
    )
    print(f"Chain head: {report.head.hex()}")
    return 0


def _checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    with app.database(settings, migrate=False) as ready:
        sealed = asyncio.run(_with_runtime(ready, lambda r: r.seal_checkpoint()))
    if sealed is None:
        print("Nothing new since the last checkpoint.")
        return 0
    print(f"Checkpoint over {sealed.tree_size} events: root {sealed.root_hash.hex()}")
    print(f"Signed {sealed.created_at.isoformat()} with key {sealed.key_id}.")
    return 0


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
        asyncio.run(_with_runtime(ready, lambda r: _write_trail(r, query)))
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
        after = (str(page.items[-1].position),)


def _line(event: TrailEvent) -> dict[str, object]:
    return {
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


async def _with_runtime(settings: Settings, action: Any) -> Any:
    runtime = app.build_runtime(settings)
    try:
        return await action(runtime)
    finally:
        await runtime.close()
