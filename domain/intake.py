"""One intake for batches judged item by item: diary entries and device readings.

Each item of a batch ends ACCEPTED, DUPLICATE (a resend: nothing changes), QUARANTINED (kept
for review, not counted) or REJECTED, with a stable code unless simply accepted. This module
owns what both kinds of batch share: the outcomes, every per-item code and the limits on a
batch's size, so the API only parses input and the use cases apply one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.errors import DomainError, ErrorCode


class Outcome(StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    QUARANTINED = "QUARANTINED"
    REJECTED = "REJECTED"


class ItemCode(StrEnum):
    """Why one item of a batch was quarantined, rejected or flagged: the one list of per-item
    codes for diary entries and readings. Clients rely on these strings, so only ever add."""

    # Found while reading the input, before the rules are asked.
    MISSING_OFFSET = "MISSING_OFFSET"  # a time without a UTC offset
    INVALID_ID = "INVALID_ID"  # a malformed client or schedule id
    INVALID_TIME = "INVALID_TIME"  # unparseable, missing, out of bounds, in the future
    INVALID_SHAPE = "INVALID_SHAPE"  # a reading of the wrong JSON type or structure
    UNKNOWN_KIND = "UNKNOWN_KIND"
    INVALID_UNIT = "INVALID_UNIT"  # missing, or not a unit accepted for the kind
    IMPLAUSIBLE_VALUE = "IMPLAUSIBLE_VALUE"  # outside the range for the kind, or inconsistent
    MISSING_COMPONENT = "MISSING_COMPONENT"
    MISSING_SOURCE_ID = "MISSING_SOURCE_ID"
    # Diary entries: the schedule, questionnaire and window rules.
    UNKNOWN_SCHEDULE = "UNKNOWN_SCHEDULE"
    UNKNOWN_QUESTIONNAIRE = "UNKNOWN_QUESTIONNAIRE"
    QUESTIONNAIRE_MISMATCH = "QUESTIONNAIRE_MISMATCH"  # hash does not match the version
    OLDER_VERSION = "OLDER_VERSION"
    UNKNOWN_OCCURRENCE = "UNKNOWN_OCCURRENCE"
    WINDOW_NOT_OPEN = "WINDOW_NOT_OPEN"
    WINDOW_CLOSED = "WINDOW_CLOSED"
    INVALID_ANSWERS = "INVALID_ANSWERS"
    ANSWERED_ALREADY = "ANSWERED_ALREADY"  # another entry answered this occurrence first
    # Readings: whose device it was.
    UNKNOWN_DEVICE = "UNKNOWN_DEVICE"  # no such device at the participant's site
    DEVICE_NOT_ASSIGNED = "DEVICE_NOT_ASSIGNED"  # someone else held the device at that time
    KIND_NOT_SUPPORTED = "KIND_NOT_SUPPORTED"  # the device is not registered for this kind
    OUTSIDE_ASSIGNMENT = "OUTSIDE_ASSIGNMENT"  # quarantined: nobody held the device then
    # Resends: the same id (or device, kind, time and source id) with other content.
    CLIENT_ID_CONFLICT = "CLIENT_ID_CONFLICT"
    SOURCE_ID_CONFLICT = "SOURCE_ID_CONFLICT"
    # The consent rules' codes (domain.consent), the same strings for both kinds.
    CONSENT_SUPERSEDED = "CONSENT_SUPERSEDED"  # collected before signing a newer version
    RECONSENT_REQUIRED = "RECONSENT_REQUIRED"  # accepted; the new version is still to be signed
    CONSENT_REQUIRED = "CONSENT_REQUIRED"  # collected before any consent was signed
    PARTICIPANT_WITHDRAWN = "PARTICIPANT_WITHDRAWN"  # collected after participation ended


@dataclass(frozen=True)
class BatchLimit:
    """How many items one call may carry; more is refused whole, before any item is judged."""

    size: int
    noun: str  # what the items are called in the message
    field: str  # the input field the error names

    def check(self, count: int) -> None:
        if count > self.size:
            raise DomainError(
                ErrorCode.VALIDATION_FAILED,
                f"Send at most {self.size} {self.noun} at a time.",
                field=self.field,
            )


DIARY_ENTRIES = BatchLimit(200, "entries", "entries")
READINGS = BatchLimit(50_000, "readings", "items")
