"""Diary corrections: site staff change submitted answers through a data change request."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from domain import access, audit
from domain.access import Permission
from domain.actors import RequestContext
from domain.corrections import DataChangeRequest
from domain.diaries import DiaryEntry, split_answers
from domain.errors import DomainError, ErrorCode
from domain.ports import UnitOfWork
from domain.questionnaires import validate_answers
from domain.reason_codes import ReasonCode, coded
from domain.services import reason_codes
from domain.services.diaries.entries import entry_scope
from domain.services.studies import require_open


async def change_requests(
    *, uow: UnitOfWork, ctx: RequestContext, entry: DiaryEntry
) -> Sequence[DataChangeRequest]:
    """Who changed which answers of an entry and why; the reason is free text, so it is
    shown only to those who may read the participant's identifiers."""
    scope = entry_scope(entry)
    access.require(ctx.actor, Permission.PARTICIPANT_READ, scope)
    async with uow:
        found = await uow.diaries.change_requests(entry.id)
    if access.allows(ctx.actor, Permission.IDENTIFIERS_READ, scope):
        return found
    return [r.withheld() for r in found]


async def correct_entry(
    *,
    uow: UnitOfWork,
    ctx: RequestContext,
    entry_id: uuid.UUID,
    changes: dict[str, object],
    reason: str,
    code: ReasonCode | str | None = None,
) -> DiaryEntry:
    """Site staff correct submitted answers through a data change request with a reason
    (and a reason code: OTHER when a client sends only the free text).

    Only the changed items are logged (old and new value); the entry's version goes up, so
    any signature on it shows as invalidated.
    """
    why = audit.normalise_reason(reason)
    if why is None:
        raise DomainError(ErrorCode.REASON_REQUIRED, "A correction needs a reason.", field="reason")
    async with uow:
        found = await uow.diaries.get(entry_id)
        entry = access.visible(
            ctx.actor, Permission.PARTICIPANT_READ, found, entry_scope, "Diary entry"
        )
        grant = access.require(ctx.actor, Permission.DATA_CORRECT, entry_scope(entry))
        await require_open(uow, entry.study_id)
        why_code = await reason_codes.or_other(uow, entry.study_id, code)
        definitions = {
            (q.definition.code, q.definition.version): q.definition
            for q in await uow.questionnaires.all(entry.study_id)
        }
        version = definitions[(entry.questionnaire_code, entry.questionnaire_version)]
        merged = {**entry.answers, **entry.free_text, **changes}
        validated = validate_answers(version, {k: v for k, v in merged.items() if v is not None})
        if not validated.ok:
            problem = validated.problems[0]
            raise DomainError(
                ErrorCode.VALIDATION_FAILED, problem.message, field=f"changes.{problem.item}"
            )
        structured, free = split_answers(version, validated.plain())
        corrected = entry.corrected(structured, free)
        old = {**entry.answers, **entry.free_text}
        new = {**corrected.answers, **corrected.free_text}
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if not changed:
            return entry
        await uow.diaries.update(corrected)
        await uow.diaries.add_change_request(
            DataChangeRequest.applied(
                participant_id=entry.participant_id,
                record_type=entry.ENTITY,
                record_id=entry.id,
                items=tuple(changed),
                reason=why,
                by=ctx.actor.id or entry.participant_id,
                now=uow.clock.now(),
            )
        )
        personal = version.personal_items()
        change = audit.Change(
            entity_type=entry.ENTITY,
            entity_id=entry.id,
            action="corrected",
            fields=tuple(
                audit.FieldChange(
                    f"answers.{k}",
                    audit.to_json(old.get(k)),
                    audit.to_json(new.get(k)),
                    personal=k in personal,
                )
                for k in changed
            ),
            actor=ctx.actor,
            role=grant.role,
            origin=ctx.origin,
            subject=audit.Subject(entry.study_id, entry.site_id, entry.participant_id),
            reason=why,
        )
        uow.record(coded(change, why_code))
        await uow.commit()
    return corrected
