"""Use cases for participants' direct identifiers: record, look up, redact, erase."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from domain import access, audit
from domain.access import Permission
from domain.actors import Grant, RequestContext
from domain.contacts import KEEP, ContactDetails, ContactField, ContactValue, Keep
from domain.errors import DomainError, ErrorCode
from domain.ids import ParticipantId, StudyId
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.reason_codes import ReasonCode, coded
from domain.services import reason_codes
from domain.services.participants import participant_scope


def _subject(p: Participant) -> audit.Subject:
    return audit.Subject(study_id=p.study_id, site_id=p.site_id, participant_id=p.id)


async def _participant(uow: UnitOfWork, ctx: RequestContext, pid: ParticipantId) -> Participant:
    found = await uow.participants.get(pid)
    return access.visible(
        ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
    )


async def _locked(uow: UnitOfWork, ctx: RequestContext, pid: ParticipantId) -> Participant:
    """For writes: the row stays locked until commit, so an erasure cannot slip in between."""
    found = await uow.participants.lock(pid)
    return access.visible(
        ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
    )


def _writable(ctx: RequestContext, participant: Participant) -> Grant:
    scope = participant_scope(participant)
    access.require(ctx.actor, Permission.IDENTIFIERS_READ, scope)
    grant = access.require(ctx.actor, Permission.PARTICIPANT_UPDATE, scope)
    if participant.erased_at is not None:
        raise DomainError(
            ErrorCode.PARTICIPANT_ERASED, "This participant's personal data was erased."
        )
    return grant


async def set_contact(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    full_name: str | Keep | None = KEEP,
    email: str | Keep | None = KEEP,
    phone: str | Keep | None = KEEP,
    date_of_birth: date | Keep | None = KEEP,
    address: str | Keep | None = KEEP,
    reason: str | None = None,
    expected_version: int | None = None,
) -> ContactDetails:
    """Record or correct a participant's contact details (site staff).

    Fields left out (KEEP) stay as they are. Emptying a field that holds a value needs a
    reason; the old value stays in the trail (redact_contact removes a mistaken one).
    """
    given: dict[ContactField, ContactValue | Keep] = {
        ContactField.FULL_NAME: full_name,
        ContactField.EMAIL: email,
        ContactField.PHONE: phone,
        ContactField.DATE_OF_BIRTH: date_of_birth,
        ContactField.ADDRESS: address,
    }
    changes = {f: v for f, v in given.items() if not isinstance(v, Keep)}
    why = audit.normalise_reason(reason)
    async with uow:
        participant = await _locked(uow, ctx, participant_id)
        grant = _writable(ctx, participant)
        previous = await uow.contacts.get(participant_id)
        if expected_version is not None and expected_version != (
            previous.version if previous else 0
        ):
            raise DomainError(ErrorCode.STALE_VERSION, "The details changed since you read them.")
        base = previous or ContactDetails(id=participant_id)
        contact = base.changed(changes, uow.clock.now().date()).next_version(previous)
        _require_reason_to_empty(base.emptied_by(contact), why)
        subject = _subject(participant)
        if previous is None:
            change = audit.created(ctx, grant, contact, subject, reason=why)
        elif (
            updated := audit.updated(ctx, grant, previous, contact, subject, reason=why)
        ) is not None:
            change = updated
        else:
            return previous  # nothing changed: nothing stored, nothing logged
        await uow.contacts.save(contact, participant.study_id)
        uow.record(change)
        await uow.commit()
    return contact


def _require_reason_to_empty(emptied: tuple[ContactField, ...], reason: str | None) -> None:
    if emptied and reason is None:
        names = ", ".join(f.value for f in emptied)
        raise DomainError(
            ErrorCode.REASON_REQUIRED,
            f"Emptying {names} needs a reason; a value entered by mistake is redacted instead.",
            field="reason",
        )


async def get_contact(
    *, uow: UnitOfWork, ctx: RequestContext, participant_id: ParticipantId
) -> ContactDetails | None:
    """The details, for the participant and their site staff only; None once erased."""
    async with uow:
        participant = await _participant(uow, ctx, participant_id)
        access.require(ctx.actor, Permission.IDENTIFIERS_READ, participant_scope(participant))
        return await uow.contacts.get(participant_id)


async def find_by_contact(
    *, uow: UnitOfWork, ctx: RequestContext, study_id: StudyId, email: str | None, phone: str | None
) -> Sequence[Participant]:
    """Participants with this e-mail or phone, among those whose identifiers you may read."""
    if not (email and email.strip()) and not (phone and phone.strip()):
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "Give an e-mail or a phone number.", field="email"
        )
    access.require_somewhere(ctx.actor, Permission.IDENTIFIERS_READ)
    async with uow:
        ids = await uow.contacts.find(study_id, email=email, phone=phone)
        found = await uow.participants.get_many(ids)
    return [
        p
        for p in found
        if access.allows(ctx.actor, Permission.IDENTIFIERS_READ, participant_scope(p))
    ]


async def redact_contact(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    field: ContactField,
    reason: str,
    replacement: str | None = None,
    code: ReasonCode | str | None = None,
) -> ContactDetails:
    """Remove a value entered by mistake, from the record and from the trail's sealed copies.

    The redaction is itself an event with its reason; the mistaken value is not logged again,
    and the hash chain still verifies because the log holds only commitments to it.
    """
    why = audit.normalise_reason(reason)
    if why is None:
        raise DomainError(ErrorCode.REASON_REQUIRED, "A redaction needs a reason.", field="reason")
    async with uow:
        participant = await _locked(uow, ctx, participant_id)
        grant = _writable(ctx, participant)
        # OTHER when a client sends only the free text
        why_code = await reason_codes.or_other(uow, participant.study_id, code)
        current = await uow.contacts.get(participant_id)
        mistaken = getattr(current, field.value) if current else None
        if current is None or mistaken is None:
            raise DomainError(
                ErrorCode.VALIDATION_FAILED, "There is no such value to redact.", field="field"
            )
        corrected = current.corrected(field, replacement, uow.clock.now().date())
        corrected = corrected.next_version(current)
        await uow.contacts.save(corrected, participant.study_id)
        removed = await uow.trail.redact(
            current.ENTITY, participant_id, field.value, audit.to_json(mistaken)
        )
        redaction = audit.Change(
            entity_type=current.ENTITY,
            entity_id=participant_id,
            action="redacted",
            fields=(
                audit.FieldChange(
                    field.value,
                    None,
                    audit.to_json(getattr(corrected, field.value)),
                    personal=True,
                ),
                # Which logged copies were cleared: verification accepts exactly these.
                audit.FieldChange("redacted_values", None, list(removed)),
            ),
            actor=ctx.actor,
            role=grant.role,
            origin=ctx.origin,
            subject=_subject(participant),
            reason=why,
        )
        uow.record(coded(redaction, why_code))
        await uow.commit()
    return corrected


async def erase_participant(
    *, uow: UnitOfWork, ctx: RequestContext, participant_id: ParticipantId, legal_basis: str
) -> Participant:
    """Crypto-shred a participant's personal data under a documented legal basis.

    Their data key is destroyed, so every sealed value (contact details, free text, personal
    values in the trail) becomes unreadable for good; pseudonymous study data stays, and the
    hash chain still verifies. The decision and its legal basis are logged in the clear.
    """
    basis = audit.normalise_reason(legal_basis)
    if basis is None:
        raise DomainError(
            ErrorCode.REASON_REQUIRED, "Erasure needs a legal basis.", field="legal_basis"
        )
    async with uow:
        found = await uow.participants.lock(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_ERASE, found, participant_scope, "Participant"
        )
        grant = access.require(
            ctx.actor, Permission.PARTICIPANT_ERASE, participant_scope(participant)
        )
        if participant.erased_at is not None:
            raise DomainError(ErrorCode.PARTICIPANT_ERASED, "This participant was erased already.")
        erased = await shred(uow, participant)
        uow.record(erasure(ctx, grant, erased, basis))
        await uow.commit()
    return erased


async def shred(uow: UnitOfWork, participant: Participant) -> Participant:
    """The erasure itself, inside an open unit of work (the caller has the row locked): the
    data key and the blind indexes go, so whatever that key sealed is unreadable for good."""
    erased = participant.erased(uow.clock.now())
    await uow.contacts.erase(participant.id)
    await uow.keys.destroy(participant.id)
    await uow.participants.update(erased)
    return erased


def erasure(
    ctx: RequestContext,
    grant: Grant,
    erased: Participant,
    basis: str,
    *extra: audit.FieldChange,
) -> audit.Change:
    """The logged decision with its legal basis in the clear; verification of the log accepts
    a destroyed key only for a subject with such an event."""
    return audit.Change(
        entity_type=erased.ENTITY,
        entity_id=erased.id,
        action="erased",
        fields=(audit.FieldChange("erased_at", None, audit.to_json(erased.erased_at)), *extra),
        actor=ctx.actor,
        role=grant.role,
        origin=ctx.origin,
        subject=_subject(erased),
        reason=basis,
        public_reason=True,
    )
