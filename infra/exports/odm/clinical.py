"""One SubjectData: the enrolment and consents, visits, diary entries and readings, each value
with its transactions and audit records, signed records with their signatures."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.diaries import DiaryEntry
from domain.visits import Visit, wall_to_utc
from infra.exports.model import SignedConsent, Subject
from infra.exports.odm.admin import Admin
from infra.exports.odm.audit import SubjectAudit
from infra.exports.odm.catalog import Catalog, Column, form_oid, group_oid, visit_event_oid
from infra.exports.odm.readings import ReadingWriter
from infra.exports.odm.safety import safety_event
from infra.exports.odm.signatures import Element, Signing
from infra.exports.odm.text import (
    F_CONSENT,
    F_READINGS,
    F_SUBJECT,
    F_VISIT,
    IG_CONSENT,
    IG_ENTRY,
    IG_SUBJECT,
    IG_VISIT,
    SE_DIARY,
    SE_ENROLMENT,
    SE_READINGS,
    as_bool,
    as_date,
    as_datetime,
    as_integer,
    as_text,
    esc,
    flag,
    stamp,
)
from infra.exports.streaming import Buffer

Columns = list[tuple[Column, str | None]]


class SubjectWriter:
    """One SubjectData (and the repeats carrying further signatures)."""

    def __init__(self, catalog: Catalog, admin: Admin, subject: Subject, sink: Buffer) -> None:
        self.catalog = catalog
        self.subject = subject
        self.info = subject.info
        self.sink = sink
        self.audit = SubjectAudit(catalog, admin, subject)
        self.signing = Signing(self.audit)
        self.key = self.audit.key

    async def write(self) -> None:
        element = Element("SubjectData", f'SubjectKey="{self.key}"')
        signed = self.signing.signed(element, ("Participant", self.info.id), self.key)
        site = f'<SiteRef LocationOID="{self.audit.location()}"/>'
        self.sink.add(f"{signed.opening}{site}{signed.notes}\n")
        self._enrolment(signed.states, signed.state_rows)
        for visit in self.subject.visits:
            self._visit(visit)
        self._diary()
        await self._readings()
        s = self.subject
        safety, rows = safety_event(self.audit, s.adverse_events, s.medications, s.deviations)
        self.sink.add(safety, rows=rows)
        self.sink.add(element.close() + signed.repeats)

    def _enrolment(self, states: str, state_rows: int) -> None:
        info = self.info
        arm = self.catalog.arm_codes.get(str(info.arm_id)) if info.arm_id else None
        arms = self.catalog.arm_codes

        def arm_code(raw: object) -> str | None:
            return None if raw is None else arms.get(str(raw), str(raw))

        columns: Columns = [
            (Column("I.SUBJECT.STATUS", "status", as_text), info.status.value),
            (Column("I.SUBJECT.ARM", "arm_id", arm_code), arm),
            (
                Column("I.SUBJECT.ENROLLED_ON", "enrolled_on", as_date, ("arm_id",)),
                as_date(info.enrolled_on),
            ),
        ]
        subject_group = self.audit.group(IG_SUBJECT, ("Participant", info.id), columns)
        self.sink.add(
            f'<StudyEventData StudyEventOID="{SE_ENROLMENT}" TransactionType="Insert">'
            f'<FormData FormOID="{F_SUBJECT}" TransactionType="Insert">{subject_group}'
            "</FormData>\n",
            rows=1,
        )
        for consent in self.subject.consents:
            self._consent(consent)
        self.sink.add(states + "</StudyEventData>\n", rows=state_rows)

    def _consent(self, consent: SignedConsent) -> None:
        entity = ("Consent", consent.id)
        columns: Columns = [
            (Column("I.CONSENT.VERSION", "number", as_integer), str(consent.number)),
            (Column("I.CONSENT.LANGUAGE", "language", as_text), consent.language),
            (Column("I.CONSENT.SIGNED_AT", "signed_at", as_datetime), stamp(consent.signed_at)),
        ]
        group = self.audit.group(IG_CONSENT, entity, columns)
        self._form(F_CONSENT, str(consent.id), entity, [group])

    def _form(
        self, form: str, repeat_key: str, entity: tuple[str, uuid.UUID], groups: list[str]
    ) -> None:
        """A signed record's FormData: audit, signature, notes, groups, signature repeats, and
        the state of each signature (forms of their own, beside it)."""
        element = Element("FormData", f'FormOID="{esc(form)}" FormRepeatKey="{esc(repeat_key)}"')
        signed = self.signing.signed(element, entity, esc(repeat_key))
        self.sink.add(
            signed.opening
            + signed.notes
            + "".join(groups)
            + element.close()
            + signed.repeats
            + signed.states,
            rows=len(groups) + signed.state_rows,
        )

    def _visit(self, visit: Visit) -> None:
        definition = self.catalog.definitions.get(visit.definition_id)
        if definition is None:
            raise ValueError(f"visit {visit.id}: its definition is not in the snapshot")
        zone = visit.timezone

        def local(raw: object) -> str | None:
            if raw is None:
                return None
            try:
                wall = datetime.fromisoformat(str(raw))
            except ValueError:
                return str(raw)
            if wall.tzinfo is not None:
                return stamp(wall)
            return wall_to_utc(wall, zone).astimezone(ZoneInfo(zone)).isoformat()

        columns: Columns = [
            (Column("I.VISIT.MODE", "mode", as_text), visit.mode.value),
            (Column("I.VISIT.STATUS", "status", as_text), visit.status.value),
            (Column("I.VISIT.OUTCOME", "outcome", as_text), as_text(visit.outcome)),
            (
                Column("I.VISIT.SCHEDULED_START", "local_start", local),
                local(visit.local_start.isoformat()),
            ),
            (
                Column("I.VISIT.DURATION", "duration_minutes", as_integer),
                str(visit.duration_minutes),
            ),
            (
                Column("I.VISIT.OUT_OF_WINDOW", "out_of_window", as_bool),
                flag(visit.out_of_window),
            ),
            (
                Column("I.VISIT.COMPLETED_AT", "completed_at", as_datetime, ("outcome",)),
                as_datetime(visit.completed_at),
            ),
        ]
        entity = ("Visit", visit.id)
        element = Element(
            "StudyEventData",
            f'StudyEventOID="{esc(visit_event_oid(definition))}" StudyEventRepeatKey="{visit.id}"',
        )
        signed = self.signing.signed(element, entity, str(visit.id))
        self.sink.add(
            f'{signed.opening}{signed.notes}<FormData FormOID="{F_VISIT}" TransactionType="Insert">'
            f"{self.audit.group(IG_VISIT, entity, columns)}</FormData>{signed.states}"
            f"{element.close()}{signed.repeats}",
            rows=1 + signed.state_rows,
        )

    def _diary(self) -> None:
        occurrences: dict[str, list[DiaryEntry]] = {}
        for entry in self.subject.entries:
            occurrences.setdefault(entry.occurrence_key, []).append(entry)
        for key, entries in occurrences.items():
            self.sink.add(
                f'<StudyEventData StudyEventOID="{SE_DIARY}" StudyEventRepeatKey="{esc(key)}"'
                ' TransactionType="Insert">\n'
            )
            for entry in entries:
                self._entry(entry)
            self.sink.add("</StudyEventData>\n")

    def _entry(self, entry: DiaryEntry) -> None:
        key = (entry.questionnaire_code, entry.questionnaire_version)
        version = self.catalog.versions.get(key)
        if version is None:
            raise ValueError(f"diary entry {entry.id}: its questionnaire is not in the snapshot")
        entity = ("DiaryEntry", entry.id)
        answers: Columns = [
            (column, column.convert(entry.answers.get(column.field.removeprefix("answers."))))
            for column in self.catalog.answer_columns[key]
        ]
        groups = [
            self.audit.group(IG_ENTRY, entity, _entry_columns(entry)),
            self.audit.group(group_oid(version), entity, answers),
        ]
        self._form(form_oid(version), str(entry.id), entity, groups)

    async def _readings(self) -> None:
        writer = ReadingWriter(self.catalog, self.audit)
        opened = False
        async for batch in self.subject.reading_batches():
            if not opened:
                self.sink.add(
                    f'<StudyEventData StudyEventOID="{SE_READINGS}" TransactionType="Insert">'
                    f'<FormData FormOID="{F_READINGS}" TransactionType="Insert">\n'
                )
                opened = True
            self.sink.extend([writer.reading(row) for row in batch], len(batch))
        if opened:
            self.sink.add("</FormData></StudyEventData>\n")


def _entry_columns(entry: DiaryEntry) -> Columns:
    return [
        (Column("I.DIARY.STATUS", "status", as_text), entry.status.value),
        (
            Column("I.DIARY.QUARANTINE_CODE", "quarantine_code", as_text, ("status",)),
            as_text(entry.quarantine_code),
        ),
        (Column("I.DIARY.TIMELINESS", "timeliness", as_text), entry.timeliness.value),
        (Column("I.DIARY.DUE_AT", "due_at", as_datetime), stamp(entry.due_at)),
        (Column("I.DIARY.COMPLETED_AT", "completed_at", as_datetime), stamp(entry.completed_at)),
        (Column("I.DIARY.RECEIVED_AT", "received_at", as_datetime), stamp(entry.received_at)),
        (Column("I.DIARY.CLOCK_SKEWED", "clock_skewed", as_bool), flag(entry.clock_skewed)),
        (
            Column("I.DIARY.CONSENT_SUPERSEDED", "consent_superseded", as_bool, ("status",)),
            flag(entry.consent_superseded),
        ),
    ]
