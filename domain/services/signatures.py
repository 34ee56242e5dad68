"""Use cases for Part 11 signatures on records: sign with the password, show with validity."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from domain import access, audit
from domain.access import Permission
from domain.actors import RequestContext
from domain.auth import PasswordHasher
from domain.errors import DomainError, ErrorCode
from domain.ports import UnitOfWork
from domain.records import Located
from domain.services.auth import reauthenticate
from domain.signatures import Meaning, Signature

# What investigators may sign; consents are countersigned through their own use case.
SIGNABLE = frozenset(
    {"Visit", "DiaryEntry", "Participant", "AdverseEvent", "ConcomitantMedication"}
)
_STAFF_MEANINGS = frozenset(
    {Meaning.AUTHORSHIP, Meaning.REVIEW, Meaning.APPROVAL, Meaning.RESPONSIBILITY}
)


def _scope(located: Located) -> access.Scope:
    return located.scope


async def sign_record(
    *,
    uow: UnitOfWork,
    passwords: PasswordHasher,
    ctx: RequestContext,
    record_type: str,
    record_id: uuid.UUID,
    meaning: Meaning,
    password: str,
) -> Signature:
    """Sign the record as it is now; re-entering the password is required (Part 11 §11.200)."""
    if record_type not in SIGNABLE or meaning not in _STAFF_MEANINGS:
        raise DomainError(
            ErrorCode.VALIDATION_FAILED, "This cannot be signed with that meaning.", field="meaning"
        )
    async with uow:
        found = await uow.records.locate(record_type, record_id)
        located = access.visible(ctx.actor, Permission.PARTICIPANT_READ, found, _scope, record_type)
        grant = access.require(ctx.actor, Permission.RECORD_SIGN, located.scope)
        signer = await reauthenticate(uow, passwords, ctx, password)
        signature = Signature.of(
            record=located.record,
            signer_id=signer.id,
            signer_kind="STAFF",
            printed_name=signer.name,
            meaning=meaning,
            now=uow.clock.now(),
        )
        await uow.signatures.add(signature)
        uow.record(
            audit.Change(
                entity_type=record_type,
                entity_id=record_id,
                action="signed",
                fields=(
                    audit.FieldChange("meaning", None, meaning.value),
                    audit.FieldChange("record_version", None, signature.record_version),
                    audit.FieldChange("signature_id", None, str(signature.id)),
                ),
                actor=ctx.actor,
                role=grant.role,
                origin=ctx.origin,
                subject=audit.Subject(located.study_id, located.site_id, located.participant_id),
            )
        )
        await uow.commit()
    return signature


@dataclass(frozen=True)
class ShownSignature:
    signature: Signature
    valid: bool  # False once the record changed after signing: it needs signing again


async def signatures_of(
    *, uow: UnitOfWork, ctx: RequestContext, record_type: str, record_id: uuid.UUID
) -> Sequence[ShownSignature]:
    async with uow:
        found = await uow.records.locate(record_type, record_id)
        located = access.visible(ctx.actor, Permission.PARTICIPANT_READ, found, _scope, record_type)
        signatures = await uow.signatures.for_records([record_id])
    return [ShownSignature(s, s.valid_for(located.record)) for s in signatures]
