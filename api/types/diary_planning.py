"""GraphQL types for diary planning: schedules, what is due for a participant, compliance."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import from_global_id, to_global_id
from api.types.questionnaires import QuestionnaireType
from api.types.reminder_policies import ReminderPolicyInput, ReminderPolicyType, policy_from
from domain.diaries import (
    Compliance,
    DiarySchedule,
    LatePolicy,
)
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, SiteId, StudyId
from domain.schedules import Recurrence
from domain.services import diaries as cases
from domain.services import questionnaires as questionnaire_cases

LatePolicyType = strawberry.enum(LatePolicy, name="LatePolicy")

# The `lastDays` argument of every `compliance` field.
LastDays = Annotated[
    int | None,
    strawberry.argument(
        description="Only occurrences whose window closed in the last N days (1-366); "
        "null: since enrolment."
    ),
]


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
    reminders: ReminderPolicyType = strawberry.field(
        description="When its participants are reminded (the default policy unless the study "
        "set its own when it created the schedule)."
    )

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
            reminders=ReminderPolicyType.of(s.reminders),
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
    reminders: ReminderPolicyInput | None = strawberry.field(
        default=None, description="The diary's own reminder policy; omitted: the default."
    )


@strawberry.type
class CreateDiaryScheduleSuccess:
    schedule: DiaryScheduleType


CreateDiaryScheduleResult = Annotated[
    CreateDiaryScheduleSuccess | MutationError, strawberry.union("CreateDiaryScheduleResult")
]


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
    # One GraphQL object per questionnaire version, shared by its occurrences: a week of
    # diaries names the same two or three versions dozens of times.
    shown: dict[tuple[str, int], QuestionnaireType] = {}

    def questionnaire(code: str, version: int) -> QuestionnaireType:
        key = (code, version)
        if key not in shown:
            shown[key] = QuestionnaireType.of(published[key])
        return shown[key]

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
            questionnaire=questionnaire(d.questionnaire.code, d.questionnaire.version),
        )
        for d in found
    ]


async def compliance_of(
    info: Info, participant_ids: list[ParticipantId], last_days: int | None = None
) -> ComplianceType:
    result = await cases.compliance(
        uow=info.context.services.uow(),
        ctx=info.context.caller,
        participant_ids=participant_ids,
        last_days=last_days,
    )
    return ComplianceType.of(result)


async def site_compliance_of(
    info: Info, site_id: SiteId, last_days: int | None = None
) -> ComplianceType:
    result = await cases.site_compliance(
        uow=info.context.services.uow(),
        ctx=info.context.caller,
        site_id=site_id,
        last_days=last_days,
    )
    return ComplianceType.of(result)


@strawberry.type
class DiaryPlanningMutations:
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
                reminders=None if input.reminders is None else policy_from(input.reminders),
            )
            return CreateDiaryScheduleSuccess(schedule=DiaryScheduleType.of(schedule))

        return await attempt(run)
