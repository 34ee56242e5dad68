"""Use cases for concomitant medications: the participant reports, the site records, confirms
and corrects (with a reason code)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Protocol

from domain import access, audit
from domain.access import Permission
from domain.actors import Grant, RequestContext
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import ParticipantId
from domain.medications import ConcomitantMedication, MedicationDetails, MedicationRepository
from domain.participants import Participant
from domain.ports import UnitOfWork
from domain.reason_codes import ReasonCode
from domain.services import reason_codes
from domain.services.participants import participant_scope

ENTITY = ConcomitantMedication.ENTITY


class MedicationUnitOfWork(UnitOfWork, Protocol):
    @property
    def medications(self) -> MedicationRepository: ...


def medication_scope(m: ConcomitantMedication) -> access.Scope:
    return access.Scope(m.study_id, m.site_id, m.participant_id)


def _subject(m: ConcomitantMedication) -> audit.Subject:
    return audit.Subject(study_id=m.study_id, site_id=m.site_id, participant_id=m.participant_id)


async def _participant(
    uow: MedicationUnitOfWork, ctx: RequestContext, participant_id: ParticipantId
) -> Participant:
    found = await uow.participants.get(participant_id)
    participant = access.visible(
        ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
    )
    if not participant.is_active:
        raise DomainError(ErrorCode.PARTICIPANT_WITHDRAWN, "This participant no longer takes part.")
    return participant


async def report(
    *,
    uow: MedicationUnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    details: MedicationDetails,
) -> ConcomitantMedication:
    """The participant, from the app: a medication they take, as they name it."""
    async with uow:
        participant = await _participant(uow, ctx, participant_id)
        grant = access.require(ctx.actor, Permission.DATA_SUBMIT, participant_scope(participant))
        medication = ConcomitantMedication.reported(
            study_id=participant.study_id,
            site_id=participant.site_id,
            participant_id=participant.id,
            details=details,
            now=uow.clock.now(),
        )
        await uow.medications.add(medication)
        uow.record(audit.created(ctx, grant, medication, _subject(medication)))
        await uow.commit()
    return medication


async def record(
    *,
    uow: MedicationUnitOfWork,
    ctx: RequestContext,
    participant_id: ParticipantId,
    details: MedicationDetails,
) -> ConcomitantMedication:
    """Site staff record a medication they learnt of, coded."""
    async with uow:
        participant = await _participant(uow, ctx, participant_id)
        grant = access.require(ctx.actor, Permission.DATA_PROXY, participant_scope(participant))
        medication = ConcomitantMedication.recorded(
            study_id=participant.study_id,
            site_id=participant.site_id,
            participant_id=participant.id,
            details=details,
            by=_staff(ctx),
            now=uow.clock.now(),
        )
        await uow.medications.add(medication)
        uow.record(audit.created(ctx, grant, medication, _subject(medication)))
        await uow.commit()
    return medication


async def _editable(
    uow: MedicationUnitOfWork, ctx: RequestContext, medication_id: uuid.UUID
) -> tuple[ConcomitantMedication, Grant]:
    found = await uow.medications.get(medication_id)
    medication = access.visible(
        ctx.actor, Permission.PARTICIPANT_READ, found, medication_scope, ENTITY
    )
    return medication, access.require(
        ctx.actor, Permission.DATA_CORRECT, medication_scope(medication)
    )


async def confirm(
    *,
    uow: MedicationUnitOfWork,
    ctx: RequestContext,
    medication_id: uuid.UUID,
    version: int,
    details: MedicationDetails,
) -> ConcomitantMedication:
    """The site confirms what the participant reported, coding it."""
    async with uow:
        before, grant = await _editable(uow, ctx, medication_id)
        _current(before, version)
        after = before.confirmed(details, _staff(ctx), uow.clock.now())
        return await _store(uow, ctx, grant, before, after, action="confirmed")


async def correct(
    *,
    uow: MedicationUnitOfWork,
    ctx: RequestContext,
    medication_id: uuid.UUID,
    version: int,
    details: MedicationDetails,
    code: ReasonCode | str | None,
    reason: str | None,
) -> ConcomitantMedication:
    """A new version of a recorded medication, with a reason code (free text optional, sealed)."""
    async with uow:
        before, grant = await _editable(uow, ctx, medication_id)
        _current(before, version)
        why = await reason_codes.required(uow, before.study_id, code)
        after = before.corrected(details, why)
        return await _store(uow, ctx, grant, before, after, action="corrected", reason=reason)


async def get(
    *, uow: MedicationUnitOfWork, ctx: RequestContext, medication_id: uuid.UUID
) -> ConcomitantMedication:
    async with uow:
        found = await uow.medications.get(medication_id)
    return access.visible(ctx.actor, Permission.PARTICIPANT_READ, found, medication_scope, ENTITY)


async def of_participant(
    *, uow: MedicationUnitOfWork, ctx: RequestContext, participant_id: ParticipantId
) -> Sequence[ConcomitantMedication]:
    async with uow:
        found = await uow.participants.get(participant_id)
        participant = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, participant_scope, "Participant"
        )
        return await uow.medications.of_participant(participant.id)


def _current(medication: ConcomitantMedication, version: int) -> None:
    if medication.version != version:
        raise DomainError(
            ErrorCode.STALE_VERSION, "The medication changed meanwhile; reload and retry."
        )


def _staff(ctx: RequestContext) -> uuid.UUID:
    if ctx.actor.id is None:  # pragma: no cover - the permission checks ruled this out
        raise NotFound("Staff user")
    return ctx.actor.id


async def _store(
    uow: MedicationUnitOfWork,
    ctx: RequestContext,
    grant: Grant,
    before: ConcomitantMedication,
    after: ConcomitantMedication,
    *,
    action: str,
    reason: str | None = None,
) -> ConcomitantMedication:
    await uow.medications.update(after)
    change = audit.updated(
        ctx, grant, before, after, _subject(before), action=action, reason=reason
    )
    if change is not None:
        if action == "corrected" and after.reason_code is not None:
            # The code goes with every correction, even when it repeats the previous one.
            coded = tuple(f for f in change.fields if f.field != "reason_code")
            code = audit.FieldChange("reason_code", None, after.reason_code.value)
            change = dataclasses.replace(change, fields=(*coded, code))
        uow.record(change)
    await uow.commit()
    return after
