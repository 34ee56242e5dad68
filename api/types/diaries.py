"""The diary mutations in one place for the schema; each job's types live in its own module:
questionnaires, diary_planning (schedules, due, compliance), diary_submission, diary_entries
(reading entries) and diary_corrections."""

from __future__ import annotations

import strawberry

from api.types.diary_corrections import DiaryCorrectionMutations
from api.types.diary_planning import DiaryPlanningMutations
from api.types.diary_submission import DiarySubmissionMutations
from api.types.questionnaires import QuestionnaireMutations


@strawberry.type
class DiaryMutations(
    QuestionnaireMutations,
    DiaryPlanningMutations,
    DiarySubmissionMutations,
    DiaryCorrectionMutations,
):
    pass
