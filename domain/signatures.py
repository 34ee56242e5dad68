"""Electronic signatures (21 CFR Part 11): who signed what, when, meaning what.

A signature is bound to one version of one record through a hash of that version's
content. When the record changes, the signature no longer matches it: it is shown as
invalidated, and the record needs signing again. Signatures cannot be moved: the hash and
the record id are part of what was signed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.audit import snapshot
from domain.ids import SignatureId, new_id


class Meaning(StrEnum):
    AUTHORSHIP = "AUTHORSHIP"  # I wrote this
    REVIEW = "REVIEW"  # I have reviewed this
    APPROVAL = "APPROVAL"  # I approve this
    RESPONSIBILITY = "RESPONSIBILITY"  # I take responsibility for this data (investigator)
    CONSENT = "CONSENT"  # I consent (participant, eConsent)
    COUNTERSIGNATURE = "COUNTERSIGNATURE"  # I obtained and witnessed this consent


MEANING_TEXT = {
    Meaning.AUTHORSHIP: "I am the author of this record.",
    Meaning.REVIEW: "I have reviewed this record.",
    Meaning.APPROVAL: "I approve this record.",
    Meaning.RESPONSIBILITY: "I take responsibility for the data in this record.",
    Meaning.CONSENT: "I consent to take part in this study as described.",
    Meaning.COUNTERSIGNATURE: "I obtained this consent and confirm the participant's signature.",
}


def record_hash(record: Any) -> str:
    """SHA-256 over the record's canonical content (every field, including its version)."""
    body = json.dumps(snapshot(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Signature:
    id: SignatureId
    signer_id: uuid.UUID
    signer_kind: str  # STAFF or PARTICIPANT
    printed_name: str
    meaning: Meaning
    signed_at: datetime
    record_type: str
    record_id: uuid.UUID
    record_version: int
    record_hash: str

    @classmethod
    def of(
        cls,
        *,
        record: Any,
        signer_id: uuid.UUID,
        signer_kind: str,
        printed_name: str,
        meaning: Meaning,
        now: datetime,
    ) -> Signature:
        return cls(
            id=SignatureId(new_id()),
            signer_id=signer_id,
            signer_kind=signer_kind,
            printed_name=printed_name,
            meaning=meaning,
            signed_at=now,
            record_type=record.ENTITY,
            record_id=record.id,
            record_version=record.version,
            record_hash=record_hash(record),
        )

    def valid_for(self, record: Any) -> bool:
        """True while the record is exactly the version that was signed."""
        return (
            self.record_type == record.ENTITY
            and record.id == self.record_id
            and record.version == self.record_version
            and record_hash(record) == self.record_hash
        )

    @property
    def manifestation(self) -> str:
        """What a signed record shows: printed name, date and time (UTC), meaning."""
        when = self.signed_at.isoformat(timespec="seconds")
        return f"{self.printed_name}, {when}, {MEANING_TEXT[self.meaning]}"
