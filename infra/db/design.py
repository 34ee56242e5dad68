"""Repository for the study design: arms and visit definitions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.design import Arm, ContactMode, VisitDefinition
from domain.errors import AlreadyExists
from domain.ids import ArmId, StudyId, VisitDefinitionId
from infra.db.mapping import row_values
from infra.db.tables import ArmRow, VisitDefinitionRow

_ARMS = ArmRow.__table__  # type: ignore[attr-defined]
_DEFINITIONS = VisitDefinitionRow.__table__  # type: ignore[attr-defined]


def _definition(row: Any) -> VisitDefinition:
    values = dict(row._mapping)
    values["modes"] = tuple(ContactMode(m) for m in values["modes"])
    return VisitDefinition(**values)


class SqlDesignRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session

    async def add_arm(self, arm: Arm) -> None:
        try:
            await self._db.execute(insert(_ARMS).values(row_values(arm)))
        except IntegrityError as error:
            raise AlreadyExists("An arm with this code", field="code") from error

    async def arms(self, study_id: StudyId) -> Sequence[Arm]:
        rows = await self._db.execute(
            select(_ARMS).where(_ARMS.c.study_id == study_id).order_by(_ARMS.c.code)
        )
        return [Arm(**r._mapping) for r in rows]

    async def arm(self, arm_id: ArmId) -> Arm | None:
        row = (await self._db.execute(select(_ARMS).where(_ARMS.c.id == arm_id))).first()
        return Arm(**row._mapping) if row else None

    async def add_visit_definition(self, definition: VisitDefinition) -> None:
        values = row_values(definition)
        values["modes"] = [m.value for m in definition.modes]
        try:
            await self._db.execute(insert(_DEFINITIONS).values(values))
        except IntegrityError as error:
            raise AlreadyExists("A visit with this code", field="code") from error

    async def visit_definitions(self, study_id: StudyId) -> Sequence[VisitDefinition]:
        rows = await self._db.execute(
            select(_DEFINITIONS)
            .where(_DEFINITIONS.c.study_id == study_id)
            .order_by(_DEFINITIONS.c.day, _DEFINITIONS.c.code)
        )
        return [_definition(r) for r in rows]

    async def visit_definition(self, definition_id: VisitDefinitionId) -> VisitDefinition | None:
        query = select(_DEFINITIONS).where(_DEFINITIONS.c.id == definition_id)
        row = (await self._db.execute(query)).first()
        return _definition(row) if row else None
