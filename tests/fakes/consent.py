"""In-memory fakes of the consent ports, for fast unit tests of the rules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from domain.consent import Consent, ConsentVersion, Withdrawal
from domain.ids import (
    ConsentVersionId,
    ParticipantId,
    StudyId,
)
from domain.signatures import Signature
from tests.fakes.participants import FakeParticipants


class FakeConsents:
    def __init__(self, participants: FakeParticipants | None = None) -> None:
        self.documents: dict[uuid.UUID, ConsentVersion] = {}
        self.rows: dict[uuid.UUID, Consent] = {}
        self.withdrawals: dict[ParticipantId, Withdrawal] = {}
        self.participants = participants or FakeParticipants()

    async def add_version(self, version: ConsentVersion) -> None:
        self.documents[version.id] = version

    async def latest_version(self, study_id: StudyId) -> ConsentVersion | None:
        mine = [d for d in self.documents.values() if d.study_id == study_id]
        return max(mine, key=lambda d: d.number, default=None)

    async def versions(self, study_id: StudyId) -> Sequence[ConsentVersion]:
        return sorted(
            (d for d in self.documents.values() if d.study_id == study_id), key=lambda d: d.number
        )

    async def version(self, version_id: ConsentVersionId) -> ConsentVersion | None:
        return self.documents.get(version_id)

    async def add_consent(self, consent: Consent, study_id: StudyId) -> None:
        self.rows[consent.id] = consent

    async def consent(self, consent_id: uuid.UUID) -> Consent | None:
        return self.rows.get(consent_id)

    async def latest_consent(self, participant_id: ParticipantId) -> Consent | None:
        mine = [c for c in self.rows.values() if c.participant_id == participant_id]
        return max(mine, key=lambda c: c.signed_at, default=None)

    async def consents_of(self, participant_id: ParticipantId) -> Sequence[Consent]:
        mine = [c for c in self.rows.values() if c.participant_id == participant_id]
        return sorted(mine, key=lambda c: c.signed_at)

    async def signed_languages(self, study_id: StudyId) -> Sequence[str]:
        active = [
            p for p in self.participants.rows.values() if p.study_id == study_id and p.is_active
        ]
        latest = [await self.latest_consent(p.id) for p in active]
        return sorted({c.language for c in latest if c is not None})

    async def add_withdrawal(self, withdrawal: Withdrawal, study_id: StudyId) -> None:
        self.withdrawals[withdrawal.participant_id] = withdrawal

    async def withdrawal(self, participant_id: ParticipantId) -> Withdrawal | None:
        return self.withdrawals.get(participant_id)


class FakeSignatures:
    def __init__(self) -> None:
        self.rows: list[Signature] = []

    async def add(self, signature: Signature) -> None:
        self.rows.append(signature)

    async def for_records(self, record_ids: Sequence[uuid.UUID]) -> Sequence[Signature]:
        return [s for s in self.rows if s.record_id in record_ids]
