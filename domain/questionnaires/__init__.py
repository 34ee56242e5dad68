"""ePRO questionnaires (diaries): versioned, content-hashed item definitions in several languages,
and the validation of a participant's submitted answers against one version."""

from __future__ import annotations

from domain.questionnaires.answers import (
    AnswerCode,
    AnswerProblem,
    ValidatedAnswers,
    to_plain,
    validate_answers,
)
from domain.questionnaires.definition import (
    DEFAULT_FREE_TEXT_LENGTH,
    MAX_FREE_TEXT_LENGTH,
    VAS_RANGE,
    VAS_UNIT,
    Answer,
    Choice,
    Item,
    ItemType,
    Number,
    PlainAnswer,
    PublishedQuestionnaire,
    QuestionnaireDraft,
    QuestionnaireVersion,
    Texts,
    content_hash,
)
from domain.questionnaires.validation import publish

__all__ = [
    "DEFAULT_FREE_TEXT_LENGTH",
    "MAX_FREE_TEXT_LENGTH",
    "VAS_RANGE",
    "VAS_UNIT",
    "Answer",
    "AnswerCode",
    "AnswerProblem",
    "Choice",
    "Item",
    "ItemType",
    "Number",
    "PlainAnswer",
    "PublishedQuestionnaire",
    "QuestionnaireDraft",
    "QuestionnaireVersion",
    "Texts",
    "ValidatedAnswers",
    "content_hash",
    "publish",
    "to_plain",
    "validate_answers",
]
