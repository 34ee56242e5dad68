"""In-memory fakes of the studies ports, for fast unit tests of the rules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from domain.access import ReadFilter
from domain.design import Arm, VisitDefinition
from domain.errors import AlreadyExists, DomainError, ErrorCode
from domain.ids import (
    ArmId,
    ParticipantId,
    SiteId,
    StudyId,
    VisitDefinitionId,
)
from domain.studies import OpenWork, Site, Study
from domain.visits import VisitStatus
from tests.fakes.visibility import _visible

if TYPE_CHECKING:
    from tests.fakes.unit_of_work import FakeUnitOfWork


class FakeStudies:
    def __init__(self, uow: FakeUnitOfWork | None = None) -> None:
        self.rows: dict[StudyId, Study] = {}
        self._uow = uow

    async def add(self, study: Study) -> None:
        if any(s.code == study.code for s in self.rows.values()):
            raise AlreadyExists("A study with this code", field="code")
        self.rows[study.id] = study

    async def by_code(self, code: str) -> Study | None:
        return next((s for s in self.rows.values() if s.code == code), None)

    async def get(self, study_id: StudyId) -> Study | None:
        return self.rows.get(study_id)

    async def get_many(self, ids: Sequence[StudyId]) -> Sequence[Study]:
        return [self.rows[i] for i in ids if i in self.rows]

    async def list(self, visible: ReadFilter) -> Sequence[Study]:
        return sorted(
            (s for s in self.rows.values() if _visible(visible, s.id)), key=lambda s: s.code
        )

    async def lock(self, study_id: StudyId) -> Study | None:
        return self.rows.get(study_id)

    async def lock_for_closing(self, study_id: StudyId) -> Study | None:
        return self.rows.get(study_id)

    async def hold(self, study_id: StudyId) -> Study | None:
        return self.rows.get(study_id)

    async def update(self, study: Study) -> None:
        if self.rows[study.id].version != study.version - 1:
            raise DomainError(ErrorCode.STALE_VERSION, "stale")
        self.rows[study.id] = study

    async def open_work(self, study_id: StudyId) -> OpenWork:
        assert self._uow is not None, "open_work needs the unit of work's other stores"
        people = self._uow.participants.rows.values()
        visits = self._uow.visits.rows.values()
        return OpenWork(
            active_participants=sum(p.study_id == study_id and p.is_active for p in people),
            scheduled_visits=sum(
                v.study_id == study_id and v.status is VisitStatus.SCHEDULED for v in visits
            ),
        )

    async def participant_ids(self, study_id: StudyId) -> Sequence[ParticipantId]:
        assert self._uow is not None, "participant_ids needs the unit of work's participants"
        found = self._uow.participants.rows.values()
        return sorted((p.id for p in found if p.study_id == study_id), key=str)


class FakeSites:
    def __init__(self) -> None:
        self.rows: dict[SiteId, Site] = {}

    async def add(self, site: Site) -> None:
        if any((s.study_id, s.code) == (site.study_id, site.code) for s in self.rows.values()):
            raise AlreadyExists("A site with this code in the study", field="code")
        self.rows[site.id] = site

    async def by_code(self, study_id: StudyId, code: str) -> Site | None:
        return next(
            (s for s in self.rows.values() if (s.study_id, s.code) == (study_id, code)), None
        )

    async def get(self, site_id: SiteId) -> Site | None:
        return self.rows.get(site_id)

    async def get_many(self, ids: Sequence[SiteId]) -> Sequence[Site]:
        return [self.rows[i] for i in ids if i in self.rows]

    async def update(self, site: Site) -> None:
        self.rows[site.id] = site

    async def list_for_studies(
        self, study_ids: Sequence[StudyId], visible: ReadFilter
    ) -> Sequence[Site]:
        return [
            s
            for s in self.rows.values()
            if s.study_id in study_ids and _visible(visible, s.study_id, s.id)
        ]


class FakeDesign:
    def __init__(self) -> None:
        self.arm_rows: dict[uuid.UUID, Arm] = {}
        self.definitions: dict[uuid.UUID, VisitDefinition] = {}

    async def add_arm(self, arm: Arm) -> None:
        self.arm_rows[arm.id] = arm

    async def arms(self, study_id: StudyId) -> Sequence[Arm]:
        return [a for a in self.arm_rows.values() if a.study_id == study_id]

    async def arm(self, arm_id: ArmId) -> Arm | None:
        return self.arm_rows.get(arm_id)

    async def add_visit_definition(self, definition: VisitDefinition) -> None:
        self.definitions[definition.id] = definition

    async def visit_definitions(self, study_id: StudyId) -> Sequence[VisitDefinition]:
        return [d for d in self.definitions.values() if d.study_id == study_id]

    async def visit_definition(self, definition_id: VisitDefinitionId) -> VisitDefinition | None:
        return self.definitions.get(definition_id)
