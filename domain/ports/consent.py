"""Ports for consent, as Protocols that infra implements."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from domain.consent import Consent, ConsentVersion, Withdrawal
from domain.ids import (
    ConsentVersionId,
    ParticipantId,
    StudyId,
)
from domain.signatures import Signature


class ConsentRepository(Protocol):
    async def add_version(self, version: ConsentVersion) -> None: ...
    async def latest_version(self, study_id: StudyId) -> ConsentVersion | None: ...
    async def versions(self, study_id: StudyId) -> Sequence[ConsentVersion]: ...
    async def version(self, version_id: ConsentVersionId) -> ConsentVersion | None: ...
    async def add_consent(self, consent: Consent, study_id: StudyId) -> None: ...
    async def consent(self, consent_id: uuid.UUID) -> Consent | None: ...

    async def latest_consent(self, participant_id: ParticipantId) -> Consent | None:
        """The participant's most recent consent, if any."""
        ...

    async def consents_of(self, participant_id: ParticipantId) -> Sequence[Consent]:
        """Every consent the participant signed, oldest first."""
        ...

    async def signed_languages(self, study_id: StudyId) -> Sequence[str]:
        """The languages of the latest consents of the study's active participants."""
        ...

    async def add_withdrawal(self, withdrawal: Withdrawal, study_id: StudyId) -> None: ...
    async def withdrawal(self, participant_id: ParticipantId) -> Withdrawal | None: ...


class SignatureRepository(Protocol):
    async def add(self, signature: Signature) -> None: ...
    async def for_records(self, record_ids: Sequence[uuid.UUID]) -> Sequence[Signature]: ...
