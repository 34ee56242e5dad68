"""A small, complete snapshot in memory: what the export format tests write and validate.

Every questionnaire item type, every reading kind (a point in time and an interval), visits
in every state, a corrected diary entry with its history, signatures (valid and invalidated),
a withdrawn and an erased participant, and audit events with and without reasons.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from domain.adverse_events import (
    ActionTaken,
    AdverseEvent,
    AdverseEventDetails,
    AdverseEventOutcome,
    Relationship,
    Seriousness,
    Severity,
)
from domain.consent import ConsentText, ConsentVersion
from domain.design import Arm, ContactMode, VisitDefinition
from domain.deviations import DeviationCategory, DeviationSeverity, ProtocolDeviation, from_visit
from domain.devices import StoredReading
from domain.diaries import DiaryEntry, EntryStatus
from domain.ids import ArmId, DeviceId, ParticipantId, StudyId, VisitDefinitionId, VisitId
from domain.medications import ConcomitantMedication, Frequency, MedicationDetails, Route
from domain.participants import ParticipantStatus
from domain.questionnaires import (
    Choice,
    Item,
    ItemType,
    PublishedQuestionnaire,
    QuestionnaireDraft,
    QuestionnaireVersion,
    publish,
    validate_answers,
)
from domain.reading_parse import parse_reading
from domain.schedules import Timeliness
from domain.studies import Site, Study
from domain.visits import Visit, VisitOutcome, VisitStatus
from infra.exports.model import (
    Change,
    Event,
    Meta,
    RecordSignature,
    SignedConsent,
    Subject,
    SubjectInfo,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
_BERLIN = ZoneInfo("Europe/Berlin")
COORDINATOR = uuid.UUID("0190a000-0000-7000-8000-000000000001")
INVESTIGATOR = uuid.UUID("0190a000-0000-7000-8000-000000000002")


def _questionnaires(study: Study) -> tuple[PublishedQuestionnaire, ...]:
    every_type = QuestionnaireDraft(
        code="SYMPTOMS",
        title={"en": "Daily symptoms", "de": "Tägliche Beschwerden"},
        languages=("en", "de"),
        items=(
            Item(
                "MOOD",
                ItemType.SINGLE_CHOICE,
                {"en": "Mood?", "de": "Stimmung?"},
                choices=(
                    Choice("GOOD", {"en": "Good", "de": "Gut"}),
                    Choice("BAD", {"en": "Bad", "de": "Schlecht"}),
                ),
            ),
            Item(
                "WHERE",
                ItemType.MULTIPLE_CHOICE,
                {"en": "Where does it hurt?", "de": "Wo tut es weh?"},
                required=False,
                choices=(
                    Choice("HEAD", {"en": "Head", "de": "Kopf"}),
                    Choice("BACK", {"en": "Back", "de": "Rücken"}),
                ),
            ),
            Item(
                "SLEEP",
                ItemType.INTEGER,
                {"en": "Hours slept", "de": "Stunden Schlaf"},
                minimum=0,
                maximum=24,
                unit="h",
            ),
            Item(
                "WEIGHT",
                ItemType.DECIMAL,
                {"en": "Weight", "de": "Gewicht"},
                minimum=Decimal("20.0"),
                maximum=Decimal("300.0"),
                step=Decimal("0.1"),
                unit="kg",
                required=False,
            ),
            Item(
                "PAIN",
                ItemType.SCALE,
                {"en": "Pain now", "de": "Schmerz jetzt"},
                minimum=0,
                maximum=10,
                anchors={0: {"en": "None", "de": "Keiner"}, 10: {"en": "Worst", "de": "Stärkster"}},
                label="Pain intensity numeric rating scale",
            ),
            Item(
                "NAUSEA",
                ItemType.VAS,
                {"en": "Nausea", "de": "Übelkeit"},
                anchors={0: {"en": "None", "de": "Keine"}, 100: {"en": "Worst", "de": "Stärkste"}},
            ),
            Item("ONSET", ItemType.DATE, {"en": "Since when?", "de": "Seit wann?"}, required=False),
            Item(
                "PILL", ItemType.TIME, {"en": "Pill taken at", "de": "Tablette um"}, required=False
            ),
            Item("WOKE", ItemType.DATETIME, {"en": "Woke up", "de": "Aufgewacht"}, required=False),
            Item(
                "NOTE",
                ItemType.FREE_TEXT,
                {"en": "Anything else?", "de": "Sonst noch?"},
                required=False,
            ),
        ),
    )
    v1 = publish(every_type, 1)
    v2 = publish(dataclasses.replace(every_type, items=every_type.items[:5]), 2)
    return tuple(
        PublishedQuestionnaire(id=uuid.uuid4(), study_id=study.id, definition=v, published_at=T0)
        for v in (v1, v2)
    )


def _reading(
    kind: str, body: dict[str, object], subject: uuid.UUID, site: Site, at: datetime, n: int
) -> StoredReading:
    reading = parse_reading(
        {"kind": kind, "sourceId": f"{kind.lower()}-{n}", "body": body}, now=T0 + timedelta(days=30)
    )
    return StoredReading(
        id=uuid.uuid4(),
        participant_id=ParticipantId(subject),
        device_id=DeviceId(uuid.UUID(int=n + 1)),
        study_id=site.study_id,
        site_id=site.id,
        reading=reading,
        received_at=at + timedelta(minutes=5),
        clock_skewed=False,
        batch_id=uuid.UUID(int=999),
    )


def _readings(subject: uuid.UUID, site: Site) -> list[StoredReading]:
    at = T0 + timedelta(hours=3)
    point = {"date_time": (at.astimezone(_BERLIN)).isoformat()}
    interval = {
        "time_interval": {
            "start_date_time": at.isoformat(),
            "end_date_time": (at + timedelta(hours=1)).isoformat(),
        }
    }
    bodies: list[tuple[str, dict[str, object]]] = [
        ("HEART_RATE", {"heart_rate": {"value": 72, "unit": "beats/min"}}),
        (
            "BLOOD_PRESSURE",
            {
                "systolic_blood_pressure": {"value": 16, "unit": "kPa"},
                "diastolic_blood_pressure": {"value": 10.5, "unit": "kPa"},
            },
        ),
        ("STEP_COUNT", {"step_count": {"value": 4200, "unit": "steps"}}),
        ("BODY_WEIGHT", {"body_weight": {"value": 154.3, "unit": "[lb_av]"}}),
        ("BLOOD_GLUCOSE", {"blood_glucose": {"value": 98, "unit": "mg/dL"}}),
        ("OXYGEN_SATURATION", {"oxygen_saturation": {"value": 97, "unit": "%"}}),
        ("BODY_TEMPERATURE", {"body_temperature": {"value": 37.2, "unit": "Cel"}}),
    ]
    found = []
    for n, (kind, body) in enumerate(bodies):
        frame = interval if kind == "STEP_COUNT" else point
        found.append(_reading(kind, {**body, "effective_time_frame": frame}, subject, site, at, n))
    # Taken under a consent version replaced since: kept, and flagged (SDTM's SUPPVS).
    found[5] = dataclasses.replace(found[5], consent_superseded=True)
    return found


class SampleSnapshot:
    """An in-memory `Snapshot`."""

    def __init__(
        self,
        meta: Meta,
        subjects: Sequence[Subject],
        readings: dict[uuid.UUID, list[StoredReading]],
    ) -> None:
        self._meta = meta
        self._subjects = list(subjects)
        self._readings = readings

    @property
    def meta(self) -> Meta:
        return self._meta

    async def subjects(self) -> AsyncIterator[Subject]:
        for subject in self._subjects:
            yield subject


def _event(
    n: int,
    entity_type: str,
    entity_id: uuid.UUID,
    action: str,
    *changes: Change,
    actor: uuid.UUID | None = COORDINATOR,
    kind: str = "STAFF",
    role: str = "COORDINATOR",
    reason: str | None = None,
    site: Site | None = None,
) -> Event:
    return Event(
        position=n,
        id=uuid.UUID(int=10_000 + n),
        recorded_at=T0 + timedelta(minutes=n),
        actor_kind=kind,
        actor_id=actor,
        actor_role=role,
        site_id=site.id if site else None,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        changes=changes,
        reason=reason,
    )


class _Log:
    """Events of one subject, numbered on from the previous subject's."""

    def __init__(self, site: Site, positions: Iterator[int]) -> None:
        self.site = site
        self.positions = positions
        self.events: list[Event] = []

    def __call__(
        self, entity_type: str, entity_id: uuid.UUID, action: str, *changes: Change, **kw: Any
    ) -> Event:
        made = _event(
            next(self.positions), entity_type, entity_id, action, *changes, site=self.site, **kw
        )
        self.events.append(made)
        return made


def sample_snapshot() -> SampleSnapshot:
    study = Study.new(code="HEARTH-01", title="Heart failure at home", now=T0 - timedelta(days=30))
    berlin = Site.new(
        study_id=study.id,
        code="BER",
        name="Charité Berlin",
        country="DE",
        timezone="Europe/Berlin",
        now=T0 - timedelta(days=30),
    )
    boston = Site.new(
        study_id=study.id,
        code="BOS",
        name="Boston Clinic",
        country="US",
        timezone="America/New_York",
        now=T0 - timedelta(days=30),
    )
    arms = (
        Arm(ArmId(uuid.uuid4()), study.id, "ACTIVE", "Active treatment", T0 - timedelta(days=29)),
        Arm(ArmId(uuid.uuid4()), study.id, "PLACEBO", "Placebo", T0 - timedelta(days=29)),
    )
    definitions = (
        VisitDefinition(
            VisitDefinitionId(uuid.uuid4()),
            study.id,
            "BASELINE",
            "Baseline",
            0,
            0,
            1,
            (ContactMode.VIDEO, ContactMode.SITE),
            T0 - timedelta(days=29),
        ),
        VisitDefinition(
            VisitDefinitionId(uuid.uuid4()),
            study.id,
            "WEEK1",
            "Week 1",
            7,
            1,
            1,
            (ContactMode.PHONE, ContactMode.HOME_NURSE),
            T0 - timedelta(days=29),
        ),
    )
    questionnaires = _questionnaires(study)
    consent = ConsentVersion.publish(
        study_id=study.id,
        number=1,
        texts=(
            ConsentText("en", "Consent", "You may stop at any time."),
            ConsentText("de", "Einwilligung", "Sie können jederzeit aufhören."),
        ),
        now=T0 - timedelta(days=20),
    )
    meta = Meta(
        export_id=uuid.uuid4(),
        study=study,
        sites=(berlin, boston),
        arms=arms,
        visit_definitions=definitions,
        questionnaires=questionnaires,
        consent_versions=(consent,),
        staff={COORDINATOR: "Carla Coordinator", INVESTIGATOR: "Dr. Ines Vogel"},
        position=400,
        chain_head="ab" * 32,
        created_at=T0 + timedelta(days=40),
    )
    subjects: list[Subject] = []
    readings: dict[uuid.UUID, list[StoredReading]] = {}
    v1 = questionnaires[0].definition
    specs = [
        ("K7Q2-9XHD", berlin, ParticipantStatus.ENROLLED, arms[0], False),
        ("M3TR-4PLW", boston, ParticipantStatus.WITHDRAWN, arms[1], False),
        ("Z9XC-2VBN", berlin, ParticipantStatus.SCREENED, None, True),
    ]
    positions = itertools.count(1)
    for subject_id, site, status, arm, erased in specs:
        pid = uuid.uuid4()
        info = SubjectInfo(
            id=pid,
            subject_id=subject_id,
            site_id=site.id,
            status=status,
            timezone=site.timezone,
            arm_id=arm.id if arm else None,
            enrolled_on=T0.date() if arm else None,
            registered_at=T0 - timedelta(days=10),
            status_changed_at=T0,
            erased=erased,
            age=64 if arm else None,  # what the snapshot derives from a sealed date of birth
        )
        log = _Log(site, positions)
        events = log.events

        log(
            "Participant",
            pid,
            "created",
            Change("status", None, "SCREENED"),
            Change("screening_number", None, None, personal=True),
        )
        if arm is None:
            subjects.append(Subject(info, (), (), (), (), tuple(events), 0, _stream([])))
            continue
        signed = SignedConsent(uuid.uuid4(), consent.id, 1, "en", T0 - timedelta(days=9))
        log(
            "Consent",
            signed.id,
            "signed",
            Change("number", None, 1),
            actor=pid,
            kind="PARTICIPANT",
            role="PARTICIPANT",
        )
        log(
            "Participant",
            pid,
            "enrolled",
            Change("status", "CONSENTED", "ENROLLED"),
            Change("arm_id", None, str(arm.id)),
        )
        baseline = _visit(pid, site, definitions[0], T0, VisitStatus.COMPLETED, VisitOutcome.DONE)
        week = _visit(
            pid,
            site,
            definitions[1],
            T0 + timedelta(days=7),
            VisitStatus.SCHEDULED,
            None,
            out_of_window=True,
        )
        cancelled = _visit(
            pid, site, definitions[1], T0 + timedelta(days=6), VisitStatus.CANCELLED, None
        )
        for visit in (baseline, week, cancelled):
            log(
                "Visit",
                visit.id,
                "scheduled",
                Change("status", None, "SCHEDULED"),
                Change("local_start", None, visit.local_start.isoformat()),
            )
        log(
            "Visit",
            baseline.id,
            "completed",
            Change("status", "SCHEDULED", "COMPLETED"),
            Change("outcome", None, "DONE"),
            Change("notes", None, None, personal=True),
        )
        log(
            "Visit",
            cancelled.id,
            "cancelled",
            Change("status", "SCHEDULED", "CANCELLED"),
            reason=None,
        )
        first = _entry(
            pid,
            site,
            v1,
            0,
            {
                "MOOD": "GOOD",
                "WHERE": ["HEAD", "BACK"],
                "SLEEP": 7,
                "WEIGHT": "71.5",
                "PAIN": 4,
                "NAUSEA": "12.5",
                "ONSET": "2026-02-27",
                "PILL": "08:30",
                "WOKE": "2026-03-02T06:45:00+01:00",
            },
            version=2,
        )
        late = _entry(
            pid,
            site,
            v1,
            1,
            {"MOOD": "BAD", "SLEEP": 5, "PAIN": 6, "NAUSEA": "40"},
            timeliness=Timeliness.LATE,
        )
        for entry in (first, late):
            log(
                "DiaryEntry",
                entry.id,
                "submitted",
                Change("status", None, "ACCEPTED"),
                *(Change(f"answers.{k}", None, v) for k, v in sorted(entry.answers.items())),
                Change("answers.NOTE", None, None, personal=True),
                actor=pid,
                kind="PARTICIPANT",
                role="PARTICIPANT",
            )
        log(
            "DiaryEntry", first.id, "corrected", Change("answers.PAIN", 3, 4), reason=None
        )  # the correction's reason is about the participant: withheld
        signature = log(
            "Signature",
            uuid.uuid4(),
            "signed",
            Change("meaning", None, "REVIEW"),
            actor=INVESTIGATOR,
            role="INVESTIGATOR",
        )
        signatures = (
            RecordSignature(
                signature.entity_id,
                INVESTIGATOR,
                "Dr. Ines Vogel",
                "REVIEW",
                signature.recorded_at,
                "Visit",
                baseline.id,
                baseline.version,
                True,
                current_version=baseline.version,
            ),
            RecordSignature(
                uuid.uuid4(),
                INVESTIGATOR,
                "Dr. Ines Vogel",
                "RESPONSIBILITY",
                T0 + timedelta(hours=1),
                "DiaryEntry",
                first.id,
                1,
                False,
                current_version=first.version,
            ),
            RecordSignature(
                uuid.uuid4(),
                pid,
                None,
                "CONSENT",
                signed.signed_at,
                "Consent",
                signed.id,
                1,
                True,
                current_version=1,
            ),
        )
        mine = _readings(pid, site)
        readings[pid] = mine
        batch = log(
            "ReadingBatch",
            uuid.UUID(int=999),
            "received",
            Change("accepted", None, len(mine)),
            Change("digest", None, "sha256:" + "cd" * 32),
            actor=pid,
            kind="PARTICIPANT",
            role="PARTICIPANT",
        )
        del batch
        if status is ParticipantStatus.WITHDRAWN:
            log(
                "Participant",
                pid,
                "updated",
                Change("status", "ENROLLED", "WITHDRAWN"),
                reason=None,
            )
        subjects.append(
            Subject(
                info=info,
                consents=(signed,),
                visits=(baseline, cancelled, week),
                entries=(first, late),
                signatures=signatures,
                events=tuple(events),
                reading_count=len(mine),
                readings=_stream(mine),
                adverse_events=_adverse_events(site, pid),
                medications=_medications(site, pid),
                deviations=_deviations(site, pid, (baseline, cancelled, week)),
            )
        )
    return SampleSnapshot(meta, subjects, readings)


PARTICIPANT_WORDS = "my head hurt after the walk with my sister"


def _adverse_events(site: Site, pid: uuid.UUID) -> tuple[AdverseEvent, ...]:
    """A serious recorded event, an ongoing one, and a report the site has not confirmed
    (its term is the participant's own words: no export may carry it)."""
    ids = {"study_id": StudyId(site.study_id), "site_id": site.id, "participant_id": pid}
    staff = uuid.uuid4()
    serious = AdverseEvent.recorded_by_site(
        **ids,  # type: ignore[arg-type]
        details=AdverseEventDetails(
            term="Pneumonia",
            onset="2026-06-03",
            end="2026-06-12",
            severity=Severity.GRADE_3,
            seriousness=(Seriousness.HOSPITALISATION,),
            relationship=Relationship.UNLIKELY_RELATED,
            action_taken=ActionTaken.DRUG_INTERRUPTED,
            outcome=AdverseEventOutcome.RECOVERED,
            llt_code="10035664",
            llt_name="Pneumonia",
            pt_code="10035664",
            pt_name="Pneumonia",
        ),
        by=staff,
        now=T0 + timedelta(days=2),
    )
    ongoing = AdverseEvent.recorded_by_site(
        **ids,  # type: ignore[arg-type]
        details=AdverseEventDetails(
            term="Headache",
            onset="2026-06",
            ongoing=True,
            severity=Severity.MILD,
            relationship=Relationship.POSSIBLY_RELATED,
            action_taken=ActionTaken.DOSE_NOT_CHANGED,
            outcome=AdverseEventOutcome.NOT_RECOVERED,
            pt_code="10019211",
            pt_name="Headache",
        ),
        by=staff,
        now=T0 + timedelta(days=3),
    )
    reported = AdverseEvent.reported_by_participant(
        **ids,  # type: ignore[arg-type]
        description=PARTICIPANT_WORDS,
        onset="2026-06-04",
        ongoing=True,
        now=T0 + timedelta(days=4),
    ).withheld()
    return (serious, ongoing, reported)


def _medications(site: Site, pid: uuid.UUID) -> tuple[ConcomitantMedication, ...]:
    """A coded medication the site recorded, one still taken the participant reported and
    the site confirmed, and a report the site has not confirmed (no export carries it)."""
    ids = {"study_id": StudyId(site.study_id), "site_id": site.id, "participant_id": pid}
    staff = uuid.uuid4()
    coded = ConcomitantMedication.recorded(
        **ids,  # type: ignore[arg-type]
        details=MedicationDetails(
            name="Amoxicillin 500",
            drug_code="000136010010",
            coded_name="AMOXICILLIN",
            dose="500",
            dose_unit="mg",
            route=Route.ORAL,
            frequency=Frequency.TID,
            start="2026-06-03",
            end="2026-06-10",
            indication="Pneumonia",
        ),
        by=staff,
        now=T0 + timedelta(days=2),
    )
    told = MedicationDetails(
        name="Ibuprofen", dose="2", dose_unit="{tbl}", start="2026-05", ongoing=True
    )
    reported = ConcomitantMedication.reported(
        **ids,  # type: ignore[arg-type]
        details=told,
        now=T0 + timedelta(days=3),
    )
    confirmed = reported.confirmed(
        dataclasses.replace(told, coded_name="IBUPROFEN", frequency=Frequency.PRN),
        staff,
        T0 + timedelta(days=4),
    )
    unconfirmed = ConcomitantMedication.reported(
        **ids,  # type: ignore[arg-type]
        details=MedicationDetails(name=UNCONFIRMED_MEDICATION, start="2026-06"),
        now=T0 + timedelta(days=5),
    )
    return (coded, confirmed, unconfirmed)


UNCONFIRMED_MEDICATION = "the green pills from my neighbour"


def _deviations(
    site: Site, pid: uuid.UUID, visits: Sequence[Visit]
) -> tuple[ProtocolDeviation, ...]:
    """One staff recorded and resolved; the two a visit completed out of its window and
    without its assessments raises, as the visit service raises them."""
    recorded = ProtocolDeviation.recorded(
        study_id=StudyId(site.study_id),
        site_id=site.id,
        participant_id=ParticipantId(pid),
        category=DeviationCategory.STUDY_PROCEDURE,
        severity=DeviationSeverity.MINOR,
        term="Blood pressure taken seated instead of supine",
        occurred_on="2026-06",
        by=uuid.uuid4(),
        now=T0 + timedelta(days=1),
    ).resolved("Site retrained", uuid.uuid4(), T0 + timedelta(days=2))
    # The week-1 visit is scheduled out of its window: completed without its assessments, it
    # raises both deviations.
    week = next(v for v in visits if v.status is VisitStatus.SCHEDULED and v.out_of_window)
    raised = from_visit(
        week, week.completed(VisitOutcome.NOT_DONE, None, T0), T0 + timedelta(days=3)
    )
    return (recorded, *raised)


def _stream(items: list[StoredReading]) -> Callable[[], AsyncIterator[StoredReading]]:
    async def readings() -> AsyncIterator[StoredReading]:
        for item in items:
            yield item

    return readings


def _visit(
    pid: uuid.UUID,
    site: Site,
    definition: VisitDefinition,
    at: datetime,
    status: VisitStatus,
    outcome: VisitOutcome | None,
    *,
    out_of_window: bool = False,
) -> Visit:
    local = at.astimezone(ZoneInfo(site.timezone)).replace(tzinfo=None)
    return Visit(
        id=VisitId(uuid.uuid4()),
        participant_id=ParticipantId(pid),
        study_id=site.study_id,
        site_id=site.id,
        definition_id=definition.id,
        mode=definition.modes[0],
        local_start=local,
        timezone=site.timezone,
        starts_at=at,
        duration_minutes=30,
        assignee_id=COORDINATOR,
        status=status,
        out_of_window=out_of_window,
        outcome=outcome,
        notes=None,
        completed_at=at + timedelta(minutes=40) if status is VisitStatus.COMPLETED else None,
        version=2 if status is not VisitStatus.SCHEDULED else 1,
    )


def _entry(
    pid: uuid.UUID,
    site: Site,
    questionnaire: QuestionnaireVersion,
    day: int,
    answers: dict[str, object],
    *,
    timeliness: Timeliness = Timeliness.ON_TIME,
    **overrides: object,
) -> DiaryEntry:
    due = T0 + timedelta(days=day)
    validated = validate_answers(questionnaire, answers)
    assert validated.ok, validated.problems
    return DiaryEntry(
        id=uuid.uuid4(),
        participant_id=ParticipantId(pid),
        study_id=site.study_id,
        site_id=site.id,
        schedule_id=uuid.UUID(int=77),
        occurrence_key=f"{(T0.date() + timedelta(days=day)).isoformat()}T09:00",
        due_at=due,
        questionnaire_code="SYMPTOMS",
        questionnaire_version=questionnaire.version,
        content_hash=questionnaire.content_hash,
        answers=validated.plain(),
        free_text={},
        completed_at=(due + timedelta(minutes=20)).astimezone(_BERLIN),
        received_at=due + timedelta(minutes=21),
        timeliness=timeliness,
        status=EntryStatus.ACCEPTED,
        quarantine_code=None,
        entered_by=pid,
        proxy_reason=None,
        clock_skewed=False,
        digest="ef" * 32,
        **overrides,  # type: ignore[arg-type]
    )
