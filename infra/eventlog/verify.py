"""`hearth audit verify`: every log, every checkpoint, every personal value, every record.

In one snapshot it walks each log (chain, Merkle roots, signed checkpoints, and the
checkpoints kept outside the database, with an RFC 6962 consistency proof from the newest
one), then checks that nothing stays unsealed for longer than the checkpoint interval and
nothing written is missing from its log, that personal values still open to what was
committed, and that the state tables say what the events say. Each problem names its log
and position (or its record).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from infra.db.data_keys import FieldCipher
from infra.eventlog import checkpoints, commitments, reconcile
from infra.eventlog.anchors import Trusted
from infra.eventlog.checkpoints import SignedCheckpoint
from infra.eventlog.integrator import LOGS_SQL
from infra.eventlog.logs import Log
from infra.eventlog.walk import LogReport, Problem, walk

__all__ = ["Problem", "Report", "verify"]

_STORED_LOGS = "SELECT DISTINCT log_id FROM audit_checkpoints"
_OLDEST_UNSEALED = (
    "SELECT e.recorded_at FROM audit_chain c JOIN audit_events e ON e.ingest = c.ingest "
    "WHERE c.log_id = $1 AND c.seq = $2"
)
_PENDING = (
    "SELECT e.log_id, count(*), min(e.recorded_at) FROM audit_pending p "
    "JOIN audit_events e ON e.ingest = p.ingest GROUP BY e.log_id"
)
_ORPHANS = (
    "SELECT e.log_id, count(*), min(e.id::text) FROM audit_events e "
    "WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.ingest = e.ingest) "
    "AND NOT EXISTS (SELECT 1 FROM audit_pending p WHERE p.ingest = e.ingest) "
    "GROUP BY e.log_id"
)


@dataclass
class Report:
    logs: list[LogReport] = field(default_factory=list)
    values: commitments.Counts = field(default_factory=commitments.Counts)
    records: int = 0
    problems: list[Problem] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per part of the check

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    @property
    def events(self) -> int:
        return sum(r.events for r in self.logs)

    @property
    def checkpoints(self) -> int:
        return sum(r.checkpoints for r in self.logs)

    @property
    def sealed_values(self) -> int:
        return self.values.sealed_values

    @property
    def redacted(self) -> int:
        return self.values.redacted

    @property
    def erased(self) -> int:
        return self.values.erased

    @property
    def seconds(self) -> float:
        return sum(self.phases.values())


@dataclass(frozen=True)
class Rules:
    now: datetime
    max_unsealed: timedelta  # an event must be in a checkpoint within this long
    reconcile: bool = True


async def verify(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    key: Ed25519PublicKey,
    installation: uuid.UUID,
    trusted: Sequence[Trusted],
    rules: Rules,
) -> Report:
    """Check everything in the session's (REPEATABLE READ) snapshot."""
    report = Report()
    started = time.perf_counter()
    raw = (await (await session.connection()).get_raw_connection()).driver_connection
    by_log, report.problems = _trusted(trusted, key, installation)
    for log_id in await _logs(raw, by_log):
        log = Log(installation, log_id)
        stored = await checkpoints.of_log(session, log_id)
        log_report, problem = await walk(raw, log, stored, by_log.get(log_id, []), key)
        report.logs.append(log_report)
        report.problems += [problem] if problem else []
        if problem is None:
            report.problems += await _sealed_in_time(raw, log_report, log, rules)
    report.problems += await _queue(raw, report, installation, rules)
    report.phases["logs"] = time.perf_counter() - started
    started = time.perf_counter()
    report.problems += await commitments.check(session, cipher, installation, report.values)
    report.phases["personal values"] = time.perf_counter() - started
    if rules.reconcile:
        started = time.perf_counter()
        report.records, found = await reconcile.reconcile(session, cipher)
        report.problems += found
        report.phases["state tables"] = time.perf_counter() - started
    return report


def _trusted(
    found: Sequence[Trusted], key: Ed25519PublicKey, installation: uuid.UUID
) -> tuple[dict[uuid.UUID, list[SignedCheckpoint]], list[Problem]]:
    """Trusted checkpoints by log; a trusted file that is not one of ours is a problem."""
    by_log: dict[uuid.UUID, list[SignedCheckpoint]] = {}
    problems = []
    for trusted in found:
        checkpoint, where = trusted.checkpoint, f"trusted checkpoint {trusted.source}"
        if checkpoint is None:
            problems.append(Problem("", None, f"{where}: {trusted.problem}"))
            continue
        log = Log.from_origin(checkpoint.origin)
        if log is None or log.installation != installation:
            if trusted.strict:
                problems.append(Problem("", None, f"{where} is not of this installation's logs"))
            continue
        if not checkpoint.signed_by(key):
            problems.append(
                Problem(log.origin, checkpoint.tree_size, f"{where} is not signed by its key")
            )
            continue
        by_log.setdefault(log.id, []).append(checkpoint)
    return by_log, problems


async def _logs(raw: Any, trusted: dict[uuid.UUID, list[SignedCheckpoint]]) -> list[uuid.UUID]:
    """Every log anything speaks of: the chains, the stored and the trusted checkpoints."""
    found = {r[0] for r in await raw.fetch(LOGS_SQL)}
    found |= {r[0] for r in await raw.fetch(_STORED_LOGS)}
    return sorted(found | set(trusted), key=str)


async def _sealed_in_time(raw: Any, report: LogReport, log: Log, rules: Rules) -> list[Problem]:
    """No event may stay outside every checkpoint for longer than the checkpoint interval."""
    if report.unsealed == 0:
        return []
    first = report.covered + 1
    recorded = await raw.fetchval(_OLDEST_UNSEALED, log.id, first)
    if recorded is None or rules.now - recorded <= rules.max_unsealed:
        return []
    since = (
        "no checkpoint at all"
        if report.newest_checkpoint is None
        else (f"the newest checkpoint is from {report.newest_checkpoint.isoformat()}")
    )
    return [
        Problem(
            log.origin,
            first,
            f"{report.unsealed} events from position {first} on (the first written "
            f"{recorded.isoformat()}) are in no checkpoint, longer than the checkpoint "
            f"interval allows; {since} (checkpoints removed, or sealing stopped: "
            "`hearth audit checkpoint` seals them if nothing else is wrong)",
        )
    ]


async def _queue(raw: Any, report: Report, installation: uuid.UUID, rules: Rules) -> list[Problem]:
    """Events written but not in their log: queued too long, or taken off the queue."""
    problems = []
    reports = {r.origin: r for r in report.logs}
    for log_id, count, oldest in await raw.fetch(_PENDING):
        log = Log(installation, log_id)
        if log.origin in reports:
            reports[log.origin].pending = count
        if rules.now - oldest > rules.max_unsealed:
            problems.append(
                Problem(
                    log.origin,
                    None,
                    f"{count} events written but not yet in the log, the oldest since "
                    f"{oldest.isoformat()}: is the integrator running? (`hearth audit integrate`)",
                )
            )
    for log_id, count, example in await raw.fetch(_ORPHANS):
        problems.append(
            Problem(
                Log(installation, log_id).origin,
                None,
                f"{count} events are neither in the log nor queued for it (taken off the "
                f"queue), e.g. event {example}",
            )
        )
    return problems
