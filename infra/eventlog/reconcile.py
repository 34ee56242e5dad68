"""The state tables against the log: every audited record must be what its events say.

For each audited table, the record's events (in the order they were written) are folded
into the latest logged value of every field, and compared with the row: a column changed
without an event, a row inserted without one, or one deleted without a logged reason, is
named with the log and position of the record's last event. Personal columns are sealed,
so for them only presence is compared; their values are checked against the log's
commitments elsewhere. Both sides stream in id order (a merge join), so memory stays flat.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from infra.db.data_keys import FieldCipher
from infra.eventlog.logs import Log
from infra.eventlog.walk import Problem

MAX_PROBLEMS = 20
_PREFETCH = 2_000


@dataclass(frozen=True)
class Audited:
    """How one entity type's events map onto its table."""

    entity: str
    table: str
    key: str = "id"
    columns: Mapping[str, str] = field(default_factory=dict)  # logged field -> its column
    skip: frozenset[str] = frozenset()  # logged fields not stored as they are logged
    gone_when: str | None = None  # SQL (with $1 = the id): a row may be missing if true
    unlogged_ok: bool = False  # rows may have no event of their own (logged in batches)


def _fields(*names: str) -> frozenset[str]:
    return frozenset(names)


# Every table whose records are logged field by field. Fields whose column has another name
# or shape are mapped or skipped here; everything else is compared as logged.
AUDITED = (
    Audited("Study", "studies"),
    Audited("Site", "sites"),
    Audited("Participant", "participants"),
    Audited(
        "ParticipantContact",
        "participant_contacts",
        key="participant_id",
        gone_when="SELECT erased_at IS NOT NULL FROM participants WHERE id = $1",
    ),
    # Lockouts come and go with sign-ins (security events), not with field changes.
    Audited("StaffUser", "staff_users", skip=_fields("grants", "locked_until")),
    Audited("Arm", "arms"),
    Audited("VisitDefinition", "visit_definitions"),
    Audited("ConsentVersion", "consent_versions"),
    Audited("Consent", "consents"),
    Audited("QuestionnaireVersion", "questionnaire_versions", skip=_fields("definition")),
    Audited(
        "DiarySchedule",
        "diary_schedules",
        columns={"late_grace": "late_grace_seconds", "reminders": "reminder_policy"},
        skip=_fields("recurrence"),
    ),
    Audited("DiaryEntry", "diary_entries", skip=_fields("questionnaire")),
    Audited("Device", "devices"),
    # Readings arrive in batches, one event each (count and digest): only later changes
    # to one reading (a deletion) are events of its own.
    Audited("Reading", "device_readings", unlogged_ok=True),
    Audited("Visit", "visits"),
    Audited("DataQuery", "data_queries"),
    Audited("ExportJob", "export_jobs"),
    Audited("AppInstallation", "app_installations"),
)

_EVENTS = (
    "SELECT e.entity_id, e.fields, e.log_id, c.seq, i.id AS installation "
    "FROM audit_events e LEFT JOIN audit_chain c ON c.ingest = e.ingest "
    "CROSS JOIN installation i "
    "WHERE e.entity_type = $1 ORDER BY e.entity_id, e.ingest"
)


@dataclass
class _Record:
    """What a record's events say it became, and where its last event is."""

    id: uuid.UUID
    values: dict[str, tuple[Any, bool]] = field(default_factory=dict)  # value, personal
    log: str = ""
    position: int | None = None

    def problem(self, audited: Audited, what: str) -> Problem:
        return Problem(self.log, self.position, f"{audited.entity} {self.id}: {what}")


async def reconcile(session: AsyncSession, cipher: FieldCipher) -> tuple[int, list[Problem]]:
    """(records compared, problems), every audited table in turn."""
    raw = (await (await session.connection()).get_raw_connection()).driver_connection
    checked, problems = 0, list[Problem]()
    for audited in AUDITED:
        count, found = await _table(raw, audited)
        checked += count
        problems += found[: MAX_PROBLEMS - len(problems)]
    return checked, problems


async def _table(raw: Any, audited: Audited) -> tuple[int, list[Problem]]:
    problems: list[Problem] = []
    rows = raw.cursor(
        # Table and key names come from AUDITED above, never from input.
        f"SELECT * FROM {audited.table} ORDER BY {audited.key}",  # noqa: S608
        prefetch=_PREFETCH,
    ).__aiter__()
    row = await anext(rows, None)
    checked = 0
    async for record in _records(raw, audited):
        while row is not None and row[audited.key] < record.id:
            problems += [] if audited.unlogged_ok else [_unlogged(audited, row)]
            row = await anext(rows, None)
        if row is not None and row[audited.key] == record.id:
            problems += _compare(audited, record, row)
            row = await anext(rows, None)
            checked += 1
        elif not await _may_be_gone(raw, audited, record.id):
            problems.append(record.problem(audited, "its row was deleted outside the application"))
        if len(problems) >= MAX_PROBLEMS:
            return checked, problems
    while row is not None and len(problems) < MAX_PROBLEMS and not audited.unlogged_ok:
        problems.append(_unlogged(audited, row))
        row = await anext(rows, None)
    return checked, problems


async def _records(raw: Any, audited: Audited) -> AsyncIterator[_Record]:
    current: _Record | None = None
    async for entity_id, fields, log_id, seq, installation in raw.cursor(
        _EVENTS, audited.entity, prefetch=_PREFETCH
    ):
        if current is None or current.id != entity_id:
            if current is not None:
                yield current
            current = _Record(entity_id)
        for entry in json.loads(fields) if isinstance(fields, str) else fields:
            current.values[entry["field"]] = (entry.get("new"), bool(entry.get("personal")))
        current.log, current.position = Log(installation, log_id).origin, seq
    if current is not None:
        yield current


def _unlogged(audited: Audited, row: Any) -> Problem:
    return Problem(
        "",
        None,
        f"{audited.entity} {row[audited.key]}: no event records it (written outside the "
        "application)",
    )


async def _may_be_gone(raw: Any, audited: Audited, record_id: uuid.UUID) -> bool:
    return audited.gone_when is not None and bool(await raw.fetchval(audited.gone_when, record_id))


def _compare(audited: Audited, record: _Record, row: Any) -> list[Problem]:
    for name, (logged, personal) in record.values.items():
        if name not in audited.skip and not _matches(audited, row, name, logged, personal):
            column = audited.columns.get(name, name)
            return [record.problem(audited, f"`{column}` is not what its events say")]
    return []


def _matches(audited: Audited, row: Any, name: str, logged: Any, personal: bool) -> bool:
    """Whether the row holds what was logged for `name` (True when it does not store it)."""
    column, _, item = audited.columns.get(name, name).partition(".")
    columns = set(row.keys())
    if personal:  # sealed: whether there is a value; the value itself is checked elsewhere
        sealed = f"{column}_sealed"
        if sealed not in columns or (row[sealed] is None) == (logged is None):
            return True
        # Erasure shreds what identifies the subject (e.g. the screening number): gone on purpose.
        return row[sealed] is None and "erased_at" in columns and row["erased_at"] is not None
    if column not in columns:
        return True
    stored = row[column]
    if item:  # one item of a JSON column, e.g. answers.PAIN
        document = json.loads(stored) if isinstance(stored, str) else stored
        stored = document.get(item) if isinstance(document, dict) else None
    return _same(stored, logged)


def _same(stored: Any, logged: Any) -> bool:
    """Whether a column's value is the value the log holds (as the domain logged it)."""
    if stored is None or logged is None:
        return stored is None and logged is None
    if isinstance(stored, datetime):
        return isinstance(logged, str) and _instant(logged) == stored
    if isinstance(stored, date):
        return bool(logged == stored.isoformat())
    if isinstance(stored, uuid.UUID):
        return bool(logged == str(stored))
    if isinstance(stored, Decimal):
        return bool(_decimal(logged) == stored)
    if isinstance(stored, str) and isinstance(logged, (dict, list)):
        return bool(_plain(json.loads(stored)) == _plain(logged))  # JSON read as text
    if isinstance(stored, (dict, list)):
        return bool(_plain(stored) == _plain(logged))
    return bool(stored == logged) and type(stored) is type(logged)


def _instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _plain(value: Any) -> Any:
    """JSON values compared by meaning: 1 and 1.0 alike, object key order ignored."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
