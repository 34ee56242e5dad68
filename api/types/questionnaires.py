"""GraphQL types and the mutation for published questionnaires (what a diary asks)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import MutationError, attempt
from api.relay import from_global_id, to_global_id
from domain.errors import DomainError, ErrorCode
from domain.ids import StudyId
from domain.questionnaires import Choice, Item, ItemType, PublishedQuestionnaire, QuestionnaireDraft
from domain.services import questionnaires as questionnaire_cases

ItemTypeType = strawberry.enum(ItemType, name="ItemType")


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


@strawberry.type
class PublishQuestionnaireSuccess:
    questionnaire: QuestionnaireType


PublishQuestionnaireResult = Annotated[
    PublishQuestionnaireSuccess | MutationError, strawberry.union("PublishQuestionnaireResult")
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


async def questionnaires_of(info: Info, study_id: StudyId) -> list[QuestionnaireType]:
    found = await questionnaire_cases.versions(
        uow=info.context.services.uow(), ctx=info.context.caller, study_id=study_id
    )
    return [QuestionnaireType.of(q) for q in found]


@strawberry.type
class QuestionnaireMutations:
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
