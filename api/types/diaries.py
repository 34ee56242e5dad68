"""GraphQL types and mutations for questionnaires, diary schedules and ePRO entries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import Connection, Node, from_global_id, instant, page_request, to_global_id
from api.types.receipts import ReceiptType, receipt_of
from api.types.signatures import SignatureType, signatures_of
from domain.corrections import DataChangeRequest
from domain.diaries import (
    Compliance,
    DiaryEntry,
    DiarySchedule,
    EntryStatus,
    ItemResult,
    LatePolicy,
    Outcome,
    Submission,
)
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import ParticipantId, SiteId, StudyId
from domain.questionnaires import Choice, Item, ItemType, PublishedQuestionnaire, QuestionnaireDraft
from domain.schedules import Recurrence, Timeliness
from domain.services import diaries as cases
from domain.services import questionnaires as questionnaire_cases

ItemTypeType = strawberry.enum(ItemType, name="ItemType")
LatePolicyType = strawberry.enum(LatePolicy, name="LatePolicy")
OutcomeType = strawberry.enum(Outcome, name="SubmissionOutcome")
EntryStatusType = strawberry.enum(EntryStatus, name="DiaryEntryStatus")
TimelinessType = strawberry.enum(Timeliness, name="Timeliness")


@strawberry.type
class LocalizedText:
    language: str
    text: str


def _texts(texts: Mapping[str, str]) -> list[LocalizedText]:
    return [LocalizedText(language=k, text=v) for k, v in sorted(texts.items())]


@strawberry.type(name="Choice")
class ChoiceType:
    code: str
    texts: list[LocalizedText]


@strawberry.type(name="Anchor")
class AnchorType:
    value: int
    texts: list[LocalizedText]


@strawberry.type(name="QuestionnaireItem")
class QuestionnaireItemType:
    code: str = strawberry.field(description="At most 8 characters (SDTM QSTESTCD).")
    type: ItemType
    required: bool
    texts: list[LocalizedText]
    choices: list[ChoiceType]
    minimum: str | None = strawberry.field(description="Exact decimal, as a string.")
    maximum: str | None
    step: str | None
    unit: str | None = strawberry.field(description="UCUM unit.")
    max_length: int | None
    anchors: list[AnchorType]
    label: str | None

    @classmethod
    def of(cls, item: Item) -> QuestionnaireItemType:
        return cls(
            code=item.code,
            type=item.type,
            required=item.required,
            texts=_texts(item.texts),
            choices=[ChoiceType(code=c.code, texts=_texts(c.texts)) for c in item.choices],
            minimum=_str(item.minimum),
            maximum=_str(item.maximum),
            step=_str(item.step),
            unit=item.unit,
            max_length=item.max_length,
            anchors=[
                AnchorType(value=k, texts=_texts(v))
                for k, v in sorted((item.anchors or {}).items())
            ],
            label=item.label,
        )


def _str(value: object) -> str | None:
    return None if value is None else str(value)


@strawberry.type(name="Questionnaire", description="A published questionnaire version.")
class QuestionnaireType:
    id: strawberry.ID
    code: str
    version: int
    content_hash: str = strawberry.field(description="Entries are pinned to it.")
    languages: list[str]
    title: list[LocalizedText]
    items: list[QuestionnaireItemType]
    published_at: datetime

    @classmethod
    def of(cls, published: PublishedQuestionnaire) -> QuestionnaireType:
        d = published.definition
        return cls(
            id=to_global_id("Questionnaire", published.id),
            code=d.code,
            version=d.version,
            content_hash=d.content_hash,
            languages=list(d.languages),
            title=_texts(d.title),
            items=[QuestionnaireItemType.of(i) for i in d.items],
            published_at=published.published_at,
        )


@strawberry.type(name="DiarySchedule")
class DiaryScheduleType:
    id: strawberry.ID
    questionnaire_code: str
    arm_id: strawberry.ID | None
    times: list[str] = strawberry.field(description="Local wall times, e.g. 09:00.")
    window_minutes: int
    weekdays: list[int] | None = strawberry.field(description="ISO 1 (Mon) to 7; null: daily.")
    start_day: int
    end_day: int | None
    late_policy: LatePolicy
    late_grace_minutes: int

    @classmethod
    def of(cls, s: DiarySchedule) -> DiaryScheduleType:
        r = s.recurrence
        return cls(
            id=to_global_id("DiarySchedule", s.id),
            questionnaire_code=s.questionnaire_code,
            arm_id=to_global_id("Arm", s.arm_id) if s.arm_id else None,
            times=[t.isoformat(timespec="minutes") for t in r.times],
            window_minutes=int(r.window.total_seconds() // 60),
            weekdays=sorted(r.weekdays) if r.weekdays else None,
            start_day=r.start_day,
            end_day=r.end_day,
            late_policy=s.late_policy,
            late_grace_minutes=int(s.late_grace.total_seconds() // 60),
        )


@strawberry.type(name="DueDiary", description="An occurrence of a diary, in local time.")
class DueDiaryType:
    schedule_id: strawberry.ID
    occurrence_key: str
    local_date: date
    local_time: str
    timezone: str
    due_at: datetime
    closes_at: datetime
    answered: bool
    questionnaire: QuestionnaireType


@strawberry.type(name="DiaryEntry", description="A submitted ePRO diary entry.")
class DiaryEntryType(Node):
    occurrence_key: str
    due_at: datetime
    questionnaire_code: str
    questionnaire_version: int
    content_hash: str
    answers: JSON = strawberry.field(description="Structured answers by item code.")
    completed_at: datetime = strawberry.field(description="The device's clock, with its offset.")
    received_at: datetime = strawberry.field(description="Server receipt time (UTC).")
    timeliness: Timeliness
    status: EntryStatus
    quarantine_code: str | None
    clock_skewed: bool
    consent_superseded: bool = strawberry.field(
        description="Completed under a consent version that has since been replaced."
    )
    version: int
    entity: strawberry.Private[DiaryEntry]

    @classmethod
    def of(cls, e: DiaryEntry) -> DiaryEntryType:
        return cls(
            id=to_global_id("DiaryEntry", e.id),
            occurrence_key=e.occurrence_key,
            due_at=e.due_at,
            questionnaire_code=e.questionnaire_code,
            questionnaire_version=e.questionnaire_version,
            content_hash=e.content_hash,
            answers=JSON(dict(e.answers)),
            completed_at=e.completed_at,
            received_at=e.received_at,
            timeliness=e.timeliness,
            status=e.status,
            quarantine_code=e.quarantine_code.value if e.quarantine_code else None,
            clock_skewed=e.clock_skewed,
            consent_superseded=e.consent_superseded,
            version=e.version,
            entity=e,
        )

    @strawberry.field(
        description="The entry's receipt in the study's log: ask for its inclusion proof."
    )
    async def receipt(self, info: Info) -> ReceiptType | None:
        return await receipt_of(info, "DiaryEntry", self.entity.id)

    @strawberry.field(description="Free-text answers: the participant and their site staff only.")
    def free_text(self, info: Info) -> JSON | None:
        return JSON(cases.free_text(info.context.caller, self.entity))

    @strawberry.field
    async def signatures(self, info: Info) -> list[SignatureType]:
        return await signatures_of(info, "DiaryEntry", self.entity.id)

    @strawberry.field(description="Corrections by site staff, oldest first.")
    async def change_requests(self, info: Info) -> list[DataChangeRequestType]:
        found = await cases.change_requests(
            uow=info.context.services.uow(), ctx=info.context.caller, entry=self.entity
        )
        return [DataChangeRequestType.of(r) for r in found]


@strawberry.type(name="DataChangeRequest")
class DataChangeRequestType:
    id: strawberry.ID
    items: list[str] = strawberry.field(description="Item codes whose answers changed.")
    reason: str | None = strawberry.field(
        description="Why; null for readers who may not see free text about the participant."
    )
    requested_by: strawberry.ID
    applied_at: datetime

    @classmethod
    def of(cls, r: DataChangeRequest) -> DataChangeRequestType:
        return cls(
            id=to_global_id("DataChangeRequest", r.id),
            items=list(r.items),
            reason=r.reason,
            requested_by=to_global_id("StaffUser", r.requested_by),
            applied_at=r.applied_at,
        )


@strawberry.type(name="Compliance")
class ComplianceType:
    expected: int = strawberry.field(description="Occurrences whose window has closed.")
    on_time: int
    late: int
    missed: int
    rate: float | None

    @classmethod
    def of(cls, c: Compliance) -> ComplianceType:
        return cls(
            expected=c.expected, on_time=c.on_time, late=c.late, missed=c.missed, rate=c.rate
        )


@strawberry.type(name="AnswerProblem")
class AnswerProblemType:
    item: str
    code: str
    message: str


@strawberry.type(name="DiaryEntryResult")
class DiaryEntryResultType:
    client_id: str
    outcome: Outcome
    code: str | None
    problems: list[AnswerProblemType]
    entry: DiaryEntryType | None

    @classmethod
    def of(cls, r: ItemResult) -> DiaryEntryResultType:
        return cls(
            client_id=str(r.client_id),
            outcome=r.outcome,
            code=str(r.code) if r.code else None,
            problems=[
                AnswerProblemType(item=p.item, code=p.code.value, message=p.message)
                for p in r.problems
            ],
            entry=DiaryEntryType.of(r.entry) if r.entry else None,
        )

    @strawberry.field(
        description="For a stored entry (accepted, quarantined or a resend): its receipt in "
        "the study's log; keep it to ask for an inclusion proof once sealed."
    )
    async def receipt(self, info: Info) -> ReceiptType | None:
        if self.entry is None:
            return None
        return await receipt_of(info, "DiaryEntry", self.entry.entity.id)


@strawberry.input
class LocalizedTextInput:
    language: str
    text: str


@strawberry.input
class ChoiceInput:
    code: str
    texts: list[LocalizedTextInput]


@strawberry.input
class AnchorInput:
    value: int
    texts: list[LocalizedTextInput]


@strawberry.input
class QuestionnaireItemInput:
    code: str
    type: ItemType
    texts: list[LocalizedTextInput]
    required: bool = True
    choices: list[ChoiceInput] = strawberry.field(default_factory=list)
    minimum: str | None = None
    maximum: str | None = None
    step: str | None = None
    unit: str | None = None
    max_length: int | None = None
    anchors: list[AnchorInput] = strawberry.field(default_factory=list)
    label: str | None = None


@strawberry.input
class PublishQuestionnaireInput:
    study_id: strawberry.ID
    code: str
    title: list[LocalizedTextInput]
    languages: list[str]
    items: list[QuestionnaireItemInput]


@strawberry.input
class CreateDiaryScheduleInput:
    study_id: strawberry.ID
    questionnaire_code: str
    arm_id: strawberry.ID | None = None
    times: list[str] = strawberry.field(description="Local wall times, e.g. ['09:00', '21:00'].")
    window_minutes: int = 120
    weekdays: list[int] | None = None
    start_day: int = 0
    end_day: int | None = None
    late_policy: LatePolicy = LatePolicy.REJECT
    late_grace_minutes: int = 0


@strawberry.input
class DiaryEntryInput:
    client_id: str = strawberry.field(description="A UUID the app makes: sending it again is safe.")
    schedule_id: strawberry.ID
    occurrence_key: str
    questionnaire_code: str
    questionnaire_version: int
    content_hash: str
    answers: JSON
    completed_at: datetime = strawberry.field(description="Device time with its UTC offset.")


@strawberry.input
class SubmitDiaryEntriesInput:
    entries: list[DiaryEntryInput]
    participant_id: strawberry.ID | None = strawberry.field(
        default=None, description="Site staff entering data for a participant (proxy)."
    )
    proxy_reason: str | None = None


@strawberry.input
class CorrectDiaryEntryInput:
    entry_id: strawberry.ID
    changes: JSON = strawberry.field(description="Item code -> new answer (null clears it).")
    reason: str


@strawberry.type
class PublishQuestionnaireSuccess:
    questionnaire: QuestionnaireType


@strawberry.type
class CreateDiaryScheduleSuccess:
    schedule: DiaryScheduleType


@strawberry.type
class SubmitDiaryEntriesSuccess:
    results: list[DiaryEntryResultType]


@strawberry.type
class CorrectDiaryEntrySuccess:
    entry: DiaryEntryType


PublishQuestionnaireResult = Annotated[
    PublishQuestionnaireSuccess | MutationError, strawberry.union("PublishQuestionnaireResult")
]
CreateDiaryScheduleResult = Annotated[
    CreateDiaryScheduleSuccess | MutationError, strawberry.union("CreateDiaryScheduleResult")
]
SubmitDiaryEntriesResult = Annotated[
    SubmitDiaryEntriesSuccess | MutationError, strawberry.union("SubmitDiaryEntriesResult")
]
CorrectDiaryEntryResult = Annotated[
    CorrectDiaryEntrySuccess | MutationError, strawberry.union("CorrectDiaryEntryResult")
]


def _text_map(texts: list[LocalizedTextInput]) -> dict[str, str]:
    return {t.language: t.text for t in texts}


def _decimal(value: str | None, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation as error:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "Use a decimal number.", field=field
        ) from error


def _draft(input: PublishQuestionnaireInput) -> QuestionnaireDraft:
    items = tuple(
        Item(
            code=i.code,
            type=ItemType(i.type),
            texts=_text_map(i.texts),
            required=i.required,
            choices=tuple(Choice(c.code, _text_map(c.texts)) for c in i.choices),
            minimum=_decimal(i.minimum, f"items[{n}].minimum"),
            maximum=_decimal(i.maximum, f"items[{n}].maximum"),
            step=_decimal(i.step, f"items[{n}].step"),
            unit=i.unit,
            max_length=i.max_length,
            anchors={a.value: _text_map(a.texts) for a in i.anchors} or None,
            label=i.label,
        )
        for n, i in enumerate(input.items)
    )
    return QuestionnaireDraft(
        code=input.code, title=_text_map(input.title), languages=tuple(input.languages), items=items
    )


def _whole_numbers(item: Item) -> Item:
    """Scales and integers take whole numbers; the GraphQL input gives decimals as strings."""
    if item.type not in (ItemType.INTEGER, ItemType.SCALE):
        return item

    def whole(value: object) -> object:
        return (
            int(value)
            if isinstance(value, Decimal) and value == value.to_integral_value()
            else value
        )

    return Item(
        **{
            **item.__dict__,
            "minimum": whole(item.minimum),
            "maximum": whole(item.maximum),
            "step": whole(item.step),
        }
    )


def _submission(entry: DiaryEntryInput) -> Submission | str:
    """A submission, or the code that rejects it before the rules are even asked."""
    if entry.completed_at.tzinfo is None:
        return "MISSING_OFFSET"
    try:
        client_id = uuid.UUID(entry.client_id)
        schedule = from_global_id(entry.schedule_id, "DiarySchedule")[1]
    except (ValueError, DomainError):
        return "INVALID_ID"
    if not isinstance(entry.answers, dict):
        return "INVALID_ANSWERS"
    return Submission(
        client_id=client_id,
        schedule_id=schedule,
        occurrence_key=entry.occurrence_key,
        questionnaire_code=entry.questionnaire_code.strip().upper(),
        questionnaire_version=entry.questionnaire_version,
        content_hash=entry.content_hash,
        answers=entry.answers,
        completed_at=entry.completed_at,
    )


async def questionnaires_of(info: Info, study_id: StudyId) -> list[QuestionnaireType]:
    found = await questionnaire_cases.versions(
        uow=info.context.services.uow(), ctx=info.context.caller, study_id=study_id
    )
    return [QuestionnaireType.of(q) for q in found]


async def schedules_of(info: Info, study_id: StudyId) -> list[DiaryScheduleType]:
    found = await cases.schedules(
        uow=info.context.services.uow(), ctx=info.context.caller, study_id=study_id
    )
    return [DiaryScheduleType.of(s) for s in found]


async def due_of(
    info: Info, participant_id: ParticipantId, start: datetime, end: datetime
) -> list[DueDiaryType]:
    found = await cases.due(
        uow=info.context.services.uow(),
        ctx=info.context.caller,
        participant_id=participant_id,
        start=start,
        end=end,
    )
    published = (
        {
            (q.definition.code, q.definition.version): q
            for q in await questionnaire_cases.versions(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                study_id=found[0].schedule.study_id,
            )
        }
        if found
        else {}
    )
    return [
        DueDiaryType(
            schedule_id=to_global_id("DiarySchedule", d.schedule.id),
            occurrence_key=d.occurrence.key,
            local_date=d.occurrence.local_date,
            local_time=d.occurrence.local_time.isoformat(timespec="minutes"),
            timezone=d.occurrence.timezone,
            due_at=d.occurrence.due_at,
            closes_at=d.occurrence.closes_at,
            answered=d.answered,
            questionnaire=QuestionnaireType.of(
                published[(d.questionnaire.code, d.questionnaire.version)]
            ),
        )
        for d in found
    ]


async def entries_of(
    info: Info,
    participant_id: ParticipantId,
    *,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[DiaryEntryType]:
    page = await cases.entries(
        uow=info.context.services.uow(),
        ctx=info.context.caller,
        participant_id=participant_id,
        request=page_request(first, after, "entry", instant, uuid.UUID, last=last, before=before),
    )
    return Connection[DiaryEntryType].of(
        page, DiaryEntryType.of, lambda e: (e.due_at.isoformat(), str(e.id)), "entry"
    )


async def compliance_of(info: Info, participant_ids: list[ParticipantId]) -> ComplianceType:
    result = await cases.compliance(
        uow=info.context.services.uow(), ctx=info.context.caller, participant_ids=participant_ids
    )
    return ComplianceType.of(result)


async def site_compliance_of(info: Info, site_id: SiteId) -> ComplianceType:
    result = await cases.site_compliance(
        uow=info.context.services.uow(), ctx=info.context.caller, site_id=site_id
    )
    return ComplianceType.of(result)


async def entry_by_id(info: Info, raw: uuid.UUID) -> DiaryEntryType | None:
    try:
        found = await cases.get_entry(
            uow=info.context.services.uow(), ctx=info.context.caller, entry_id=raw
        )
    except NotFound:
        return None
    return DiaryEntryType.of(found)


@strawberry.type
class DiaryMutations:
    @strawberry.mutation(description="Publish a questionnaire version (study designers).")
    async def publish_questionnaire(
        self, info: Info, input: PublishQuestionnaireInput
    ) -> PublishQuestionnaireResult:
        async def run() -> PublishQuestionnaireSuccess:
            draft = _draft(input)
            draft = QuestionnaireDraft(
                draft.code,
                draft.title,
                draft.languages,
                tuple(_whole_numbers(i) for i in draft.items),
            )
            published = await questionnaire_cases.publish_version(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                study_id=StudyId(from_global_id(input.study_id, "Study")[1]),
                draft=draft,
            )
            return PublishQuestionnaireSuccess(questionnaire=QuestionnaireType.of(published))

        return await attempt(run)

    @strawberry.mutation(description="Schedule a questionnaire in participants' local time.")
    async def create_diary_schedule(
        self, info: Info, input: CreateDiaryScheduleInput
    ) -> CreateDiaryScheduleResult:
        async def run() -> CreateDiaryScheduleSuccess:
            try:
                times = tuple(time.fromisoformat(t) for t in input.times)
            except ValueError as error:
                raise DomainError(
                    ErrorCode.VALIDATION_FAILED, "Use times such as 09:00.", field="times"
                ) from error
            recurrence = Recurrence(
                times=times,
                window=timedelta(minutes=input.window_minutes),
                weekdays=frozenset(input.weekdays) if input.weekdays is not None else None,
                start_day=input.start_day,
                end_day=input.end_day,
            )
            schedule = await cases.create_schedule(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                study_id=StudyId(from_global_id(input.study_id, "Study")[1]),
                questionnaire_code=input.questionnaire_code,
                arm_id=from_global_id(input.arm_id, "Arm")[1] if input.arm_id else None,
                recurrence=recurrence,
                late_policy=LatePolicy(input.late_policy),
                late_grace=timedelta(minutes=input.late_grace_minutes),
            )
            return CreateDiaryScheduleSuccess(schedule=DiaryScheduleType.of(schedule))

        return await attempt(run)

    @strawberry.mutation(
        description="Send diary entries (an offline backlog too): one result each."
    )
    async def submit_diary_entries(
        self, info: Info, input: SubmitDiaryEntriesInput
    ) -> SubmitDiaryEntriesResult:
        async def run() -> SubmitDiaryEntriesSuccess:
            if len(input.entries) > cases.MAX_BATCH:
                raise DomainError(
                    ErrorCode.VALIDATION_FAILED,
                    f"Send at most {cases.MAX_BATCH} entries at a time.",
                    field="entries",
                )
            prepared = [_submission(e) for e in input.entries]
            valid = [p for p in prepared if isinstance(p, Submission)]
            stored = iter(  # always called: who may submit is decided before any item
                await cases.submit(
                    uow=info.context.services.uow(),
                    ctx=info.context.caller,
                    submissions=valid,
                    participant_id=ParticipantId(
                        from_global_id(input.participant_id, "Participant")[1]
                    )
                    if input.participant_id
                    else None,
                    proxy_reason=input.proxy_reason,
                )
            )
            results = [
                DiaryEntryResultType.of(next(stored))
                if isinstance(p, Submission)
                else DiaryEntryResultType(
                    client_id=e.client_id, outcome=Outcome.REJECTED, code=p, problems=[], entry=None
                )
                for p, e in zip(prepared, input.entries, strict=True)
            ]
            return SubmitDiaryEntriesSuccess(results=results)

        return await attempt(run)

    @strawberry.mutation(description="Correct submitted answers (site staff), with a reason.")
    async def correct_diary_entry(
        self, info: Info, input: CorrectDiaryEntryInput
    ) -> CorrectDiaryEntryResult:
        async def run() -> CorrectDiaryEntrySuccess:
            if not isinstance(input.changes, dict):
                raise DomainError(
                    ErrorCode.VALIDATION_FAILED,
                    "Give changes as an object of item codes.",
                    field="changes",
                )
            entry = await cases.correct_entry(
                uow=info.context.services.uow(),
                ctx=info.context.caller,
                entry_id=from_global_id(input.entry_id, "DiaryEntry")[1],
                changes=dict(input.changes),
                reason=input.reason,
            )
            return CorrectDiaryEntrySuccess(entry=DiaryEntryType.of(entry))

        return await attempt(run)
