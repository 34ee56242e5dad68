"""Repository for diary schedules, entries (free text sealed) and data change requests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.corrections import DataChangeRequest
from domain.diaries import DiaryEntry, DiarySchedule, EntryCode, EntryStatus, LatePolicy
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId, StudyId
from domain.pagination import Page, PageRequest
from domain.reminders import Policy
from domain.schedules import Recurrence, Timeliness
from infra.db.data_keys import FieldCipher
from infra.db.keyset import keyset_page
from infra.db.offsets import in_offset, offset_of
from infra.db.tables import DataChangeRequestRow, DiaryEntryRow, DiaryScheduleRow

_SCHEDULES = DiaryScheduleRow.__table__  # type: ignore[attr-defined]
_ENTRIES = DiaryEntryRow.__table__  # type: ignore[attr-defined]
_CHANGES = DataChangeRequestRow.__table__  # type: ignore[attr-defined]


def _recurrence(r: Recurrence) -> dict[str, Any]:
    return {
        "times": [t.isoformat(timespec="minutes") for t in r.times],
        "windowSeconds": int(r.window.total_seconds()),
        "weekdays": sorted(r.weekdays) if r.weekdays else None,
        "startDay": r.start_day,
        "endDay": r.end_day,
    }


def _from_recurrence(d: dict[str, Any]) -> Recurrence:
    return Recurrence(
        times=tuple(time.fromisoformat(t) for t in d["times"]),
        window=timedelta(seconds=d["windowSeconds"]),
        weekdays=frozenset(d["weekdays"]) if d["weekdays"] else None,
        start_day=d["startDay"],
        end_day=d["endDay"],
    )


def _schedule(row: Any) -> DiarySchedule:
    return DiarySchedule(
        id=row.id,
        study_id=StudyId(row.study_id),
        questionnaire_code=row.questionnaire_code,
        arm_id=row.arm_id,
        recurrence=_from_recurrence(row.recurrence),
        late_policy=LatePolicy(row.late_policy),
        late_grace=timedelta(seconds=row.late_grace_seconds),
        created_at=row.created_at,
        version=row.version,
        reminders=None if row.reminder_policy is None else Policy.from_json(row.reminder_policy),
    )


class SqlDiaryRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._db = session
        self._cipher = cipher

    async def add_schedule(self, schedule: DiarySchedule) -> None:
        await self._db.execute(
            insert(_SCHEDULES).values(
                id=schedule.id,
                study_id=schedule.study_id,
                questionnaire_code=schedule.questionnaire_code,
                arm_id=schedule.arm_id,
                recurrence=_recurrence(schedule.recurrence),
                late_policy=schedule.late_policy.value,
                late_grace_seconds=int(schedule.late_grace.total_seconds()),
                created_at=schedule.created_at,
                version=schedule.version,
                reminder_policy=None
                if schedule.reminders is None
                else schedule.reminders.to_json(),
            )
        )

    async def schedules(self, study_id: StudyId) -> Sequence[DiarySchedule]:
        rows = await self._db.execute(
            select(_SCHEDULES)
            .where(_SCHEDULES.c.study_id == study_id)
            .order_by(_SCHEDULES.c.created_at)
        )
        return [_schedule(r) for r in rows]

    async def get_many(self, entry_ids: Sequence[uuid.UUID]) -> Sequence[DiaryEntry]:
        if not entry_ids:
            return []
        rows = await self._db.execute(select(_ENTRIES).where(_ENTRIES.c.id.in_(entry_ids)))
        return [await self.entry_of(r) for r in rows.all()]

    async def fingerprint(self, participant_id: ParticipantId, digest: str) -> str:
        return await self._cipher.keyed_digest(participant_id, "diary-entry", digest)

    async def get(self, entry_id: uuid.UUID) -> DiaryEntry | None:
        row = (await self._db.execute(select(_ENTRIES).where(_ENTRIES.c.id == entry_id))).first()
        return await self.entry_of(row) if row else None

    async def _values(self, entry: DiaryEntry) -> dict[str, Any]:
        seal = self._cipher.seal
        free = (
            await seal(
                entry.participant_id,
                "diary_entries",
                "free_text",
                entry.id,
                json.dumps(dict(entry.free_text)),
            )
            if entry.free_text
            else None
        )
        reason = (
            await seal(
                entry.participant_id, "diary_entries", "proxy_reason", entry.id, entry.proxy_reason
            )
            if entry.proxy_reason
            else None
        )
        return {
            "answers": dict(entry.answers),
            "free_text_sealed": free,
            "proxy_reason_sealed": reason,
            "status": entry.status.value,
            "quarantine_code": entry.quarantine_code.value if entry.quarantine_code else None,
            "version": entry.version,
        }

    async def try_add(self, entry: DiaryEntry) -> bool:
        # No conflict target: the primary key (resend) and the "one accepted answer per
        # occurrence" index both make the insert a no-op; the use case tells them apart.
        statement = (
            pg_insert(_ENTRIES)
            .values(
                id=entry.id,
                participant_id=entry.participant_id,
                study_id=entry.study_id,
                site_id=entry.site_id,
                schedule_id=entry.schedule_id,
                occurrence_key=entry.occurrence_key,
                due_at=entry.due_at,
                questionnaire_code=entry.questionnaire_code,
                questionnaire_version=entry.questionnaire_version,
                content_hash=entry.content_hash,
                completed_at=entry.completed_at,
                completed_offset=offset_of(entry.completed_at),
                consent_superseded=entry.consent_superseded,
                received_at=entry.received_at,
                timeliness=entry.timeliness.value,
                entered_by=entry.entered_by,
                clock_skewed=entry.clock_skewed,
                digest=entry.digest,
                **await self._values(entry),
            )
            .on_conflict_do_nothing()
            .returning(_ENTRIES.c.id)
        )
        return (await self._db.execute(statement)).first() is not None

    async def update(self, entry: DiaryEntry) -> None:
        result = await self._db.execute(
            update(_ENTRIES)
            .where(_ENTRIES.c.id == entry.id, _ENTRIES.c.version == entry.version - 1)
            .values(**await self._values(entry))
            .returning(_ENTRIES.c.id)
        )
        if result.first() is None:
            raise DomainError(
                ErrorCode.STALE_VERSION, "The entry changed meanwhile; reload and retry."
            )

    async def answered(self, participant_ids: Sequence[ParticipantId]) -> Sequence[DiaryEntry]:
        rows = await self._db.execute(
            select(_ENTRIES).where(
                _ENTRIES.c.participant_id.in_(participant_ids),
                _ENTRIES.c.status == EntryStatus.ACCEPTED.value,
            )
        )
        return [await self.entry_of(r, reveal=False) for r in rows.all()]

    async def answered_keys(
        self, participant_id: ParticipantId, keys: Sequence[str]
    ) -> set[tuple[uuid.UUID, str]]:
        if not keys:
            return set()
        rows = await self._db.execute(
            select(_ENTRIES.c.schedule_id, _ENTRIES.c.occurrence_key).where(
                _ENTRIES.c.participant_id == participant_id,
                _ENTRIES.c.status == EntryStatus.ACCEPTED.value,
                _ENTRIES.c.occurrence_key.in_(sorted(set(keys))),
            )
        )
        return {(r.schedule_id, r.occurrence_key) for r in rows}

    async def page(self, participant_id: ParticipantId, request: PageRequest) -> Page[DiaryEntry]:
        """Oldest occurrence first; the cursor is (due time, id)."""
        query = select(_ENTRIES).where(_ENTRIES.c.participant_id == participant_id)
        found = await keyset_page(
            self._db,
            query,
            [_ENTRIES.c.due_at, _ENTRIES.c.id],
            [datetime.fromisoformat, uuid.UUID],
            request,
        )
        return found.with_items([await self.entry_of(r) for r in found.items])

    async def add_change_request(self, request: DataChangeRequest) -> None:
        if request.reason is None:
            raise ValueError("A data change request is stored with its reason.")
        reason = await self._cipher.seal(
            request.participant_id, "data_change_requests", "reason", request.id, request.reason
        )
        await self._db.execute(
            insert(_CHANGES).values(
                id=request.id,
                participant_id=request.participant_id,
                record_type=request.record_type,
                record_id=request.record_id,
                items=list(request.items),
                reason_sealed=reason,
                requested_by=request.requested_by,
                applied_at=request.applied_at,
            )
        )

    async def change_requests(self, record_id: uuid.UUID) -> Sequence[DataChangeRequest]:
        rows = (
            await self._db.execute(
                select(_CHANGES)
                .where(_CHANGES.c.record_id == record_id)
                .order_by(_CHANGES.c.applied_at, _CHANGES.c.id)
            )
        ).all()
        return [
            DataChangeRequest(
                id=row.id,
                participant_id=ParticipantId(row.participant_id),
                record_type=row.record_type,
                record_id=row.record_id,
                items=tuple(row.items),
                reason=await self._cipher.open(
                    row.participant_id, "data_change_requests", "reason", row.id, row.reason_sealed
                ),
                requested_by=row.requested_by,
                applied_at=row.applied_at,
            )
            for row in rows
        ]

    async def entry_of(self, row: Any, *, reveal: bool = True) -> DiaryEntry:
        free: dict[str, str] = {}
        reason = None
        if reveal and row.free_text_sealed is not None:
            opened = await self._cipher.open(
                row.participant_id, "diary_entries", "free_text", row.id, row.free_text_sealed
            )
            free = json.loads(opened) if opened else {}
        if reveal and row.proxy_reason_sealed is not None:
            reason = await self._cipher.open(
                row.participant_id, "diary_entries", "proxy_reason", row.id, row.proxy_reason_sealed
            )
        return DiaryEntry(
            id=row.id,
            participant_id=ParticipantId(row.participant_id),
            study_id=StudyId(row.study_id),
            site_id=SiteId(row.site_id),
            schedule_id=row.schedule_id,
            occurrence_key=row.occurrence_key,
            due_at=row.due_at,
            questionnaire_code=row.questionnaire_code,
            questionnaire_version=row.questionnaire_version,
            content_hash=row.content_hash,
            answers=row.answers,
            free_text=free,
            completed_at=in_offset(row.completed_at, row.completed_offset),
            received_at=row.received_at,
            timeliness=Timeliness(row.timeliness),
            status=EntryStatus(row.status),
            quarantine_code=EntryCode(row.quarantine_code) if row.quarantine_code else None,
            entered_by=row.entered_by,
            proxy_reason=reason,
            clock_skewed=row.clock_skewed,
            digest=row.digest,
            consent_superseded=row.consent_superseded,
            version=row.version,
        )
