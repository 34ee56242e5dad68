"""Repositories for consent documents, participants' consents and signatures."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.consent import Consent, ConsentText, ConsentVersion, Withdrawal
from domain.errors import DomainError, ErrorCode
from domain.ids import ConsentVersionId, ParticipantId, SignatureId, StudyId
from domain.participants import ParticipantStatus
from domain.signatures import Meaning, Signature
from infra.db.data_keys import FieldCipher
from infra.db.tables import (
    ConsentRow,
    ConsentVersionRow,
    ParticipantRow,
    SignatureRow,
    WithdrawalRow,
)

_VERSIONS = ConsentVersionRow.__table__  # type: ignore[attr-defined]
_CONSENTS = ConsentRow.__table__  # type: ignore[attr-defined]
_SIGNATURES = SignatureRow.__table__  # type: ignore[attr-defined]
_WITHDRAWALS = WithdrawalRow.__table__  # type: ignore[attr-defined]
_PARTICIPANTS = ParticipantRow.__table__  # type: ignore[attr-defined]
# Who still takes part (Participant.is_active): they would be asked to re-consent.
_ACTIVE = (ParticipantStatus.SCREENED, ParticipantStatus.CONSENTED, ParticipantStatus.ENROLLED)
_ERASED = "[erased]"


def _version(row: Any) -> ConsentVersion:
    texts = tuple(ConsentText(t["language"], t["title"], t["body"]) for t in row.texts)
    return ConsentVersion(
        row.id, row.study_id, row.number, texts, row.content_hash, row.published_at, row.version
    )


class SqlConsentRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._db = session
        self._cipher = cipher

    async def add_version(self, version: ConsentVersion) -> None:
        try:
            await self._db.execute(
                insert(_VERSIONS).values(
                    id=version.id,
                    study_id=version.study_id,
                    number=version.number,
                    texts=[t.__dict__ for t in version.texts],
                    content_hash=version.content_hash,
                    published_at=version.published_at,
                    version=version.version,
                )
            )
        except IntegrityError as error:  # two publishers at once: one number, one version
            raise DomainError(
                ErrorCode.STALE_VERSION, "Another version was published meanwhile."
            ) from error

    async def latest_version(self, study_id: StudyId) -> ConsentVersion | None:
        query = (
            select(_VERSIONS)
            .where(_VERSIONS.c.study_id == study_id)
            .order_by(_VERSIONS.c.number.desc())
            .limit(1)
        )
        row = (await self._db.execute(query)).first()
        return _version(row) if row else None

    async def versions(self, study_id: StudyId) -> Sequence[ConsentVersion]:
        query = (
            select(_VERSIONS).where(_VERSIONS.c.study_id == study_id).order_by(_VERSIONS.c.number)
        )
        return [_version(r) for r in await self._db.execute(query)]

    async def version(self, version_id: ConsentVersionId) -> ConsentVersion | None:
        row = (
            await self._db.execute(select(_VERSIONS).where(_VERSIONS.c.id == version_id))
        ).first()
        return _version(row) if row else None

    async def add_consent(self, consent: Consent, study_id: StudyId) -> None:
        sealed = await self._cipher.seal(
            consent.participant_id, "consents", "signed_name", consent.id, consent.signed_name
        )
        await self._db.execute(
            insert(_CONSENTS).values(
                id=consent.id,
                participant_id=consent.participant_id,
                study_id=study_id,
                consent_version_id=consent.consent_version_id,
                number=consent.number,
                language=consent.language,
                signed_name_sealed=sealed,
                signed_at=consent.signed_at,
                version=consent.version,
            )
        )

    async def consent(self, consent_id: uuid.UUID) -> Consent | None:
        row = (
            await self._db.execute(select(_CONSENTS).where(_CONSENTS.c.id == consent_id))
        ).first()
        return await self._consent(row) if row else None

    async def latest_consent(self, participant_id: ParticipantId) -> Consent | None:
        query = (
            select(_CONSENTS)
            .where(_CONSENTS.c.participant_id == participant_id)
            .order_by(_CONSENTS.c.signed_at.desc())
            .limit(1)
        )
        row = (await self._db.execute(query)).first()
        return await self._consent(row) if row else None

    async def consents_of(self, participant_id: ParticipantId) -> Sequence[Consent]:
        rows = await self._db.execute(
            select(_CONSENTS)
            .where(_CONSENTS.c.participant_id == participant_id)
            .order_by(_CONSENTS.c.signed_at)
        )
        return [await self._consent(r) for r in rows.all()]

    async def signed_languages(self, study_id: StudyId) -> Sequence[str]:
        latest = (
            select(_CONSENTS.c.language)
            .ext(distinct_on(_CONSENTS.c.participant_id))
            .join(_PARTICIPANTS, _PARTICIPANTS.c.id == _CONSENTS.c.participant_id)
            .where(
                _CONSENTS.c.study_id == study_id,
                _PARTICIPANTS.c.status.in_([s.value for s in _ACTIVE]),
            )
            .order_by(_CONSENTS.c.participant_id, _CONSENTS.c.signed_at.desc())
        )
        return sorted({row.language for row in await self._db.execute(latest)})

    async def add_withdrawal(self, withdrawal: Withdrawal, study_id: StudyId) -> None:
        await self._db.execute(
            insert(_WITHDRAWALS).values(
                participant_id=withdrawal.participant_id,
                study_id=study_id,
                withdrawn_at=withdrawal.withdrawn_at,
                covers_collected_data=withdrawal.covers_collected_data,
                version=withdrawal.version,
            )
        )

    async def withdrawal(self, participant_id: ParticipantId) -> Withdrawal | None:
        row = (
            await self._db.execute(
                select(_WITHDRAWALS).where(_WITHDRAWALS.c.participant_id == participant_id)
            )
        ).first()
        if row is None:
            return None
        return Withdrawal(
            ParticipantId(row.participant_id),
            row.withdrawn_at,
            row.covers_collected_data,
            row.version,
        )

    async def _consent(self, row: Any) -> Consent:
        name = await self._cipher.open(
            row.participant_id, "consents", "signed_name", row.id, row.signed_name_sealed
        )
        return Consent(
            id=row.id,
            participant_id=ParticipantId(row.participant_id),
            consent_version_id=ConsentVersionId(row.consent_version_id),
            number=row.number,
            language=row.language,
            signed_name=name if name is not None else _ERASED,
            signed_at=row.signed_at,
            version=row.version,
        )


class SqlSignatureRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._db = session
        self._cipher = cipher

    async def add(self, signature: Signature) -> None:
        sealed = await self._cipher.seal(
            signature.signer_id, "signatures", "printed_name", signature.id, signature.printed_name
        )
        await self._db.execute(
            insert(_SIGNATURES).values(
                id=signature.id,
                signer_id=signature.signer_id,
                signer_kind=signature.signer_kind,
                printed_name_sealed=sealed,
                meaning=signature.meaning.value,
                signed_at=signature.signed_at,
                record_type=signature.record_type,
                record_id=signature.record_id,
                record_version=signature.record_version,
                record_hash=signature.record_hash,
            )
        )

    async def for_records(self, record_ids: Sequence[uuid.UUID]) -> Sequence[Signature]:
        rows = await self._db.execute(
            select(_SIGNATURES)
            .where(_SIGNATURES.c.record_id.in_(record_ids))
            .order_by(_SIGNATURES.c.signed_at)
        )
        return [await self._signature(r) for r in rows.all()]

    async def _signature(self, row: Any) -> Signature:
        name = await self._cipher.open(
            row.signer_id, "signatures", "printed_name", row.id, row.printed_name_sealed
        )
        return Signature(
            id=SignatureId(row.id),
            signer_id=row.signer_id,
            signer_kind=row.signer_kind,
            printed_name=name if name is not None else _ERASED,
            meaning=Meaning(row.meaning),
            signed_at=row.signed_at,
            record_type=row.record_type,
            record_id=row.record_id,
            record_version=row.record_version,
            record_hash=row.record_hash,
        )
