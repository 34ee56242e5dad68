"""Use cases for eConsent: publish versions, sign in the app, countersign, check it is current."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import ActorKind, Grant, RequestContext, Role
from domain.auth import PasswordHasher
from domain.consent import (
    Consent,
    ConsentHistory,
    ConsentText,
    ConsentVersion,
    Withdrawal,
    dropped_languages,
)
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import ConsentVersionId, ParticipantId, StudyId
from domain.participants import Participant, ParticipantStatus
from domain.ports import UnitOfWork
from domain.services.auth import reauthenticate
from domain.services.participants import participant_scope
from domain.signatures import Meaning, Signature


def _subject(p: Participant) -> audit.Subject:
    return audit.Subject(study_id=p.study_id, site_id=p.site_id, participant_id=p.id)


async def publish_version(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    study_id: StudyId,
    texts: tuple[ConsentText, ...],
    reason: str | None = None,
) -> ConsentVersion:
    """A new version of the study's consent; everyone must consent to it again.

    A version that no longer offers a language active participants signed in would ask them
    to re-consent in a language they may not read: it is refused (CONSENT_LANGUAGE_DROPPED)
    unless a reason is given, which is logged with the dropped languages.
    """
    grant = access.require(ctx.actor, Permission.STUDY_DESIGN, Scope(study_id=study_id))
    why = audit.normalise_reason(reason)
    async with uow:
        if await uow.studies.get(study_id) is None:
            raise NotFound("Study")
        latest = await uow.consents.latest_version(study_id)
        document = ConsentVersion.publish(
            study_id=study_id,
            number=(latest.number if latest else 0) + 1,
            texts=texts,
            now=uow.clock.now(),
        )
        dropped = dropped_languages(document, await uow.consents.signed_languages(study_id))
        if dropped and why is None:
            raise DomainError(
                ErrorCode.CONSENT_LANGUAGE_DROPPED,
                f"Participants signed in {', '.join(dropped)}, which this version leaves out; "
                "add those texts, or give a reason to publish it without them.",
                field="texts",
            )
        await uow.consents.add_version(document)
        uow.record(_published(ctx, grant, document, dropped, why))
        await uow.commit()
    return document


def _published(
    ctx: RequestContext,
    grant: Grant,
    document: ConsentVersion,
    dropped: tuple[str, ...],
    reason: str | None,
) -> audit.Change:
    change = audit.created(ctx, grant, document, audit.Subject(study_id=document.study_id), reason)
    if not dropped:
        return change
    field = audit.FieldChange("dropped_languages", None, audit.to_json(list(dropped)))
    return dataclasses.replace(change, fields=(*change.fields, field))


async def history(uow: UnitOfWork, participant: Participant) -> ConsentHistory:
    """Inside an open unit of work: what judges data by the consent in force when collected."""
    return ConsentHistory(
        participant=participant,
        versions=tuple(await uow.consents.versions(participant.study_id)),
        consents=tuple(await uow.consents.consents_of(participant.id)),
        withdrawal=await uow.consents.withdrawal(participant.id),
    )


async def versions(
    *, uow: UnitOfWork, ctx: RequestContext, study_id: StudyId
) -> Sequence[ConsentVersion]:
    """Staff of the study see all versions; a participant sees their study's."""
    actor = ctx.actor
    if not any(g.role is Role.PARTICIPANT and g.study_id == study_id for g in actor.grants):
        access.require(actor, Permission.STUDY_READ, Scope(study_id=study_id))
    async with uow:
        return await uow.consents.versions(study_id)


@dataclass(frozen=True)
class ConsentState:
    latest: ConsentVersion | None
    consent: Consent | None
    signatures: tuple[Signature, ...]
    withdrawal: Withdrawal | None = None

    @property
    def current(self) -> bool:
        return (
            self.latest is not None
            and self.consent is not None
            and self.consent.consent_version_id == self.latest.id
        )

    @property
    def countersigned(self) -> bool:
        return self.consent is not None and any(
            s.meaning is Meaning.COUNTERSIGNATURE and s.valid_for(self.consent)
            for s in self.signatures
        )


async def state(
    *, uow: UnitOfWork, ctx: RequestContext, participant_id: ParticipantId
) -> ConsentState:
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        latest = await uow.consents.latest_version(participant.study_id)
        consent = await uow.consents.latest_consent(participant.id)
        signatures = await uow.signatures.for_records([consent.id]) if consent else ()
        withdrawal = await uow.consents.withdrawal(participant.id)
    return ConsentState(latest, consent, tuple(signatures), withdrawal)


async def sign(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    consent_version_id: ConsentVersionId,
    language: str,
    name: str,
) -> Consent:
    """The participant signs the current version in the app, typing their name as signature."""
    actor = ctx.actor
    if actor.kind is not ActorKind.PARTICIPANT or actor.id is None:
        raise DomainError(ErrorCode.FORBIDDEN, "Only the participant signs their consent.")
    async with uow:
        participant = await uow.participants.lock(ParticipantId(actor.id))
        if participant is None:
            raise NotFound("Participant")
        grant = access.require(actor, Permission.CONSENT_SIGN, participant_scope(participant))
        if not participant.is_active:
            raise DomainError(
                ErrorCode.PARTICIPANT_WITHDRAWN, "You no longer take part in the study."
            )
        document = await uow.consents.version(consent_version_id)
        latest = await uow.consents.latest_version(participant.study_id)
        if document is None or document.study_id != participant.study_id:
            raise NotFound("Consent version")
        if latest is None or document.id != latest.id:
            raise DomainError(
                ErrorCode.VALIDATION_FAILED,
                "Sign the current version of the consent.",
                field="consent_version_id",
            )
        now = uow.clock.now()
        consent = Consent.sign(
            participant=participant, document=document, language=language, name=name, now=now
        )
        signature = Signature.of(
            record=consent,
            signer_id=participant.id,
            signer_kind="PARTICIPANT",
            printed_name=consent.signed_name,
            meaning=Meaning.CONSENT,
            now=now,
        )
        await uow.consents.add_consent(consent, participant.study_id)
        await uow.signatures.add(signature)
        uow.record(audit.created(ctx, grant, consent, _subject(participant)))
        if participant.status is ParticipantStatus.SCREENED:
            consented = participant.move_to(ParticipantStatus.CONSENTED, now)
            await uow.participants.update(consented)
            change = audit.updated(
                ctx,
                grant,
                participant,
                consented,
                _subject(participant),
                action="status_changed",
                reason="Consent signed in the app",
            )
            if change:
                uow.record(change)
        await uow.commit()
    return consent


async def countersign(
    *,
    uow: UnitOfWork,
    passwords: PasswordHasher,
    ctx: RequestContext,
    consent_id: uuid.UUID,
    password: str,
) -> Signature:
    """The investigator confirms the consent (Part 11: re-enters their password)."""
    async with uow:
        consent = await uow.consents.consent(consent_id)
        found = await uow.participants.get(consent.participant_id) if consent else None
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Consent"
        )
        if consent is None:
            raise NotFound("Consent")
        grant = access.require(ctx.actor, Permission.RECORD_SIGN, participant_scope(participant))
        signer = await reauthenticate(uow, passwords, ctx, password)
        signature = Signature.of(
            record=consent,
            signer_id=signer.id,
            signer_kind="STAFF",
            printed_name=signer.name,
            meaning=Meaning.COUNTERSIGNATURE,
            now=uow.clock.now(),
        )
        await uow.signatures.add(signature)
        uow.record(
            audit.Change(
                entity_type=consent.ENTITY,
                entity_id=consent.id,
                action="countersigned",
                fields=(audit.FieldChange("signature_id", None, str(signature.id)),),
                actor=ctx.actor,
                role=grant.role,
                origin=ctx.origin,
                subject=_subject(participant),
            )
        )
        await uow.commit()
    return signature
