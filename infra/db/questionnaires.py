"""Repository for published questionnaires, stored as a JSON document per version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import DomainError, ErrorCode
from domain.ids import StudyId
from domain.questionnaires import (
    Choice,
    Item,
    ItemType,
    PublishedQuestionnaire,
    QuestionnaireVersion,
)
from infra.db.tables import QuestionnaireVersionRow

_TABLE = QuestionnaireVersionRow.__table__  # type: ignore[attr-defined]


def to_document(version: QuestionnaireVersion) -> dict[str, Any]:
    return {
        "code": version.code,
        "version": version.version,
        "title": dict(version.title),
        "languages": list(version.languages),
        "items": [_item(i) for i in version.items],
        "contentHash": version.content_hash,
    }


def _number(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _item(item: Item) -> dict[str, Any]:
    return {
        "code": item.code,
        "type": item.type.value,
        "texts": dict(item.texts),
        "required": item.required,
        "choices": [{"code": c.code, "texts": dict(c.texts)} for c in item.choices],
        "minimum": _number(item.minimum),
        "maximum": _number(item.maximum),
        "step": _number(item.step),
        "unit": item.unit,
        "maxLength": item.max_length,
        "anchors": {str(k): dict(v) for k, v in item.anchors.items()} if item.anchors else None,
        "label": item.label,
    }


def _parse_number(value: Any, decimal: bool) -> Any:
    if value is None:
        return None
    return Decimal(value) if decimal else int(value)


def from_document(document: Mapping[str, Any]) -> QuestionnaireVersion:
    items = []
    for raw in document["items"]:
        kind = ItemType(raw["type"])
        decimal = kind in (ItemType.DECIMAL, ItemType.VAS)
        items.append(
            Item(
                code=raw["code"],
                type=kind,
                texts=raw["texts"],
                required=raw["required"],
                choices=tuple(Choice(c["code"], c["texts"]) for c in raw["choices"]),
                minimum=_parse_number(raw["minimum"], decimal),
                maximum=_parse_number(raw["maximum"], decimal),
                step=_parse_number(raw["step"], decimal),
                unit=raw["unit"],
                max_length=raw["maxLength"],
                anchors={int(k): v for k, v in raw["anchors"].items()} if raw["anchors"] else None,
                label=raw["label"],
            )
        )
    return QuestionnaireVersion(
        code=document["code"],
        version=document["version"],
        title=document["title"],
        languages=tuple(document["languages"]),
        items=tuple(items),
        content_hash=document["contentHash"],
    )


class SqlQuestionnaireRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def add(self, published: PublishedQuestionnaire) -> None:
        definition = published.definition
        try:
            await self._db.execute(
                insert(_TABLE).values(
                    id=published.id,
                    study_id=published.study_id,
                    code=definition.code,
                    version=definition.version,
                    document=to_document(definition),
                    content_hash=definition.content_hash,
                    published_at=published.published_at,
                )
            )
        except IntegrityError as error:
            raise DomainError(
                ErrorCode.STALE_VERSION, "Another version was published meanwhile."
            ) from error

    async def all(self, study_id: StudyId) -> Sequence[PublishedQuestionnaire]:
        rows = await self._db.execute(
            select(_TABLE)
            .where(_TABLE.c.study_id == study_id)
            .order_by(_TABLE.c.code, _TABLE.c.version)
        )
        return [
            PublishedQuestionnaire(r.id, r.study_id, from_document(r.document), r.published_at)
            for r in rows
        ]
