"""Part 11 signatures in the clinical data: valid ones as ODM Signatures on the signed record,
and every signature's state as data, so that one a later change invalidated never passes for
valid in a reviewer's tool.

The earliest valid signature of a record goes in the record's element; each further valid one
in a repeat of that element (``TransactionType="Update"``, no data). An invalidated signature
is never a ``<Signature>``: it is an Annotation (a readable note) and, like every signature of
the record, an ``F.SIGNATURE`` form beside the record (``FormRepeatKey`` = the signature id,
in the record's study event): the record it signs (type and its repeat key or subject key),
meaning, time, the record version signed and the version in this export, and its state,
inserted VALID by the signing and updated to INVALIDATED with the audit record of the change
that invalidated it, whose event id ``I.SIG.INVALIDATED_BY`` repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.exports.model import Event, RecordSignature
from infra.exports.odm.audit import Entity, SubjectAudit
from infra.exports.odm.text import (
    F_SIGNATURE,
    I_SIG_CURRENT_VERSION,
    I_SIG_INVALIDATED_BY,
    I_SIG_MEANING,
    I_SIG_RECORD_KEY,
    I_SIG_RECORD_TYPE,
    I_SIG_SIGNED_AT,
    I_SIG_SIGNED_VERSION,
    I_SIG_STATE,
    IG_SIGNATURE,
    esc,
    stamp,
)


@dataclass(frozen=True)
class Element:
    """A clinical-data element that may appear more than once (for further signatures)."""

    tag: str
    attributes: str  # escaped, without TransactionType

    def open(self, transaction: str) -> str:
        return f'<{self.tag} {self.attributes} TransactionType="{transaction}">'

    def close(self) -> str:
        return f"</{self.tag}>\n"


@dataclass(frozen=True)
class Signed:
    """A signed record's element, in parts: its opening (with the audit record and the first
    valid signature), the notes on invalidated signatures, the signature state forms (for
    the record's study event) and the repeats carrying further valid signatures (after
    closing)."""

    opening: str
    notes: str
    states: str
    repeats: str
    state_rows: int  # item groups in `states`


class Signing:
    def __init__(self, audit: SubjectAudit) -> None:
        self.audit = audit
        self.by_record: dict[Entity, list[RecordSignature]] = {}
        for signature in sorted(audit.subject.signatures, key=lambda s: (s.signed_at, str(s.id))):
            key = (signature.record_type, signature.record_id)
            self.by_record.setdefault(key, []).append(signature)

    def signed(self, element: Element, entity: Entity, key: str) -> Signed:
        """`key`: how the export names the record (its repeat key, or the subject key)."""
        audit = self.audit
        signatures = self.by_record.get(entity, [])
        valid = [s for s in signatures if s.valid]
        notes = "".join(
            f'<Annotation SeqNum="{n}" TransactionType="Insert"><Comment>'
            f"{esc(self._invalidated(s, entity))}</Comment></Annotation>"
            for n, s in enumerate((s for s in signatures if not s.valid), start=1)
        )
        opening = (
            element.open("Insert")
            + audit.record(audit.origin(audit.events(*entity)))
            + (self._signature(valid[0]) if valid else "")
        )
        repeats = "".join(
            element.open("Update")
            + audit.record(self._signing(s))
            + self._signature(s)
            + element.close()
            for s in valid[1:]
        )
        states = "".join(self._state(s, entity, key) for s in signatures)
        return Signed(opening, notes, states, repeats, len(signatures))

    def _signature(self, signature: RecordSignature) -> str:
        return (
            f'<Signature><UserRef UserOID="{self.audit.signer(signature)}"/>'
            f'<LocationRef LocationOID="{self.audit.location()}"/>'
            f'<SignatureRef SignatureOID="{self.audit.admin.signature_def(signature.meaning)}"/>'
            f"<DateTimeStamp>{stamp(signature.signed_at)}</DateTimeStamp></Signature>"
        )

    def _signing(self, signature: RecordSignature) -> Event | None:
        return next(iter(self.audit.events("Signature", signature.id)), None)

    def _invalidating(self, signature: RecordSignature, entity: Entity) -> Event | None:
        """The first change of the record after the signing; failing that (a signature whose
        signing is not in the log), its latest change: what brought it to its version now."""
        changes = [e for e in self.audit.events(*entity) if e.changes]
        signing = self._signing(signature)
        later = [
            e
            for e in changes
            if (e.position > signing.position if signing else e.recorded_at > signature.signed_at)
        ]
        return later[0] if later else (changes[-1] if changes else None)

    def _invalidated(self, signature: RecordSignature, entity: Entity) -> str:
        event = self._invalidating(signature, entity)
        current = signature.current_version
        now = "" if current is None else f", version {current} now"
        since = "" if event is None else f" (event {event.id})"
        return (
            f"Invalidated signature: {signature.meaning} by {self.audit.signer(signature)} at"
            f" {stamp(signature.signed_at)} on record version {signature.record_version}"
            f"{now}; the record changed after signing{since}."
        )

    def _state(self, signature: RecordSignature, entity: Entity, key: str) -> str:
        audit = self.audit
        signing = audit.record(self._signing(signature) or audit.origin(audit.events(*entity)))
        items = [
            _insert(I_SIG_RECORD_TYPE, esc(signature.record_type)),
            _insert(I_SIG_RECORD_KEY, key),
            _insert(I_SIG_MEANING, esc(signature.meaning)),
            _insert(I_SIG_SIGNED_AT, stamp(signature.signed_at)),
            _insert(I_SIG_SIGNED_VERSION, str(signature.record_version)),
        ]
        if signature.current_version is not None:
            items.append(_insert(I_SIG_CURRENT_VERSION, str(signature.current_version)))
        items.append(_insert(I_SIG_STATE, "VALID"))
        if not signature.valid:
            event = self._invalidating(signature, entity)
            record = audit.record(event) or signing
            items.append(
                f'<ItemData ItemOID="{I_SIG_STATE}" TransactionType="Update"'
                f' Value="INVALIDATED">{record}</ItemData>'
            )
            if event is not None:
                items.append(
                    f'<ItemData ItemOID="{I_SIG_INVALIDATED_BY}" TransactionType="Insert"'
                    f' Value="{event.id}">{record}</ItemData>'
                )
        return (
            f'<FormData FormOID="{F_SIGNATURE}" FormRepeatKey="{signature.id}"'
            f' TransactionType="Insert"><ItemGroupData ItemGroupOID="{IG_SIGNATURE}"'
            f' TransactionType="Insert">{signing}{"".join(items)}</ItemGroupData></FormData>\n'
        )


def _insert(oid: str, value: str) -> str:
    return f'<ItemData ItemOID="{oid}" TransactionType="Insert" Value="{value}"/>'
