"""Request-scoped DataLoaders: nested fields load in one query per level, never N+1."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from domain.actors import RequestContext
from domain.ids import ParticipantId, StudyId
from domain.participants import Participant
from domain.ports import UnitOfWorkFactory
from domain.services import participants, studies
from domain.studies import Site


class Loaders:
    def __init__(self, uow: UnitOfWorkFactory, caller: RequestContext) -> None:
        self._uow = uow
        self._caller = caller
        self.sites_by_study = DataLoader[StudyId, list[Site]](load_fn=self._sites_by_study)
        self.participants = DataLoader[ParticipantId, Participant | None](
            load_fn=self._participants
        )

    async def _sites_by_study(self, ids: Sequence[StudyId]) -> list[list[Site]]:
        found = await studies.list_sites(uow=self._uow(), ctx=self._caller, study_ids=ids)
        grouped: dict[StudyId, list[Site]] = defaultdict(list)
        for site in found:
            grouped[site.study_id].append(site)
        return [grouped[i] for i in ids]

    async def _participants(self, ids: Sequence[ParticipantId]) -> list[Participant | None]:
        found = await participants.get_participants(uow=self._uow(), ctx=self._caller, ids=ids)
        return list(found)
